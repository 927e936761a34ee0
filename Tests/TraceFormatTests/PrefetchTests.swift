import Testing

@testable import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// A reader that fetches the next chunk on a second thread reads every file exactly as one that does not: the same
/// events, the same damage in the same order, whatever the damage, and it can be dropped at any point.
@Suite struct PrefetchTests {
    struct Read: Equatable {
        var events: [TraceEvent]
        var damage: [String]
        var error: String?
    }

    static func read(_ path: String, prefetch: Bool, views: Bool = false) -> (Read, prefetching: Bool) {
        do {
            let r = try TraceReader(path: path, prefetch: prefetch)
            var events: [TraceEvent] = []
            if views {
                while try r.nextChunk(views: { events.append($0.event) }) != nil {}
            } else {
                while try r.nextChunk(visit: { events.append($0) }) != nil {}
            }
            return (Read(events: events, damage: r.damage.map(\.description), error: nil), r.isPrefetching)
        } catch {
            return (Read(events: [], damage: [], error: error.description), false)
        }
    }

    /// Damaged copies of a many-chunk file: bit flips in chunk bodies and headers, a cut, garbage between chunks,
    /// a chunk removed, the footer cut.
    static func damagedCopies(_ s: DamageTests.Sample) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = [("intact", s.bytes)]
        var rng = SplitMix64(seed: 11)
        for i in 0..<12 {
            var b = s.bytes
            let c = s.chunks[Int(rng.next() % UInt64(s.chunks.count))]
            let at = c.start + Int(rng.next() % UInt64(c.end - c.start))
            b[at] ^= UInt8(1 << (rng.next() % 8))
            out.append(("flip \(i) at \(at)", b))
        }
        let mid = s.chunks[s.chunks.count / 2]
        out.append(("cut in a chunk", Array(s.bytes[0..<(mid.start + (mid.end - mid.start) / 2)])))
        out.append(("garbage before a chunk", Array(s.bytes[0..<mid.start]) + [UInt8](repeating: 0xA5, count: 37) + Array(s.bytes[mid.start...])))
        out.append(("a chunk removed", Array(s.bytes[0..<mid.start]) + Array(s.bytes[mid.end...])))
        out.append(("footer cut", Array(s.bytes[0..<(s.footerStart + 5)])))
        return out
    }

    @Test("with and without prefetching: the same events and damage, intact or damaged, through both reading paths")
    func sameReads() throws {
        let sample = try DamageTests.makeSample(seed: 21, count: 400)
        #expect(sample.chunks.count > 10)
        var prefetched = 0
        for (name, bytes) in Self.damagedCopies(sample) {
            let path = TraceFiles.temporaryPath("prefetch")
            defer { unlink(path) }
            TraceFiles.store(bytes, path)
            let (plain, _) = Self.read(path, prefetch: false)
            for views in [false, true] {
                let (ahead, used) = Self.read(path, prefetch: true, views: views)
                #expect(ahead == plain, "\(name), views \(views)")
                if used { prefetched += 1 }
            }
            if name == "intact" { #expect(plain.events == sample.events && plain.damage.isEmpty) }
        }
        // On a machine where this process may use two CPUs the second thread did the fetching; else it never starts.
        #expect(prefetched == (ChunkPrefetcher.worthwhile ? 2 * Self.damagedCopies(sample).count : 0))
    }

    /// How many of this process's fds refer to `path` (other tests open files of their own meanwhile).
    static func openFds(of path: String) -> Int {
        guard let dir = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(dir) }
        var n = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            var target = [UInt8](repeating: 0, count: 4096)
            let len = readlink("/proc/self/fd/" + name, &target, target.count)
            if len > 0 && String(decoding: target[0..<len], as: UTF8.self) == path { n += 1 }
        }
        return n
    }

    @Test("a prefetching reader dropped after any chunk ends its thread and closes its file")
    func droppedEarly() throws {
        let sample = try DamageTests.makeSample(seed: 22, count: 300)
        let path = TraceFiles.temporaryPath("prefetch-drop")
        defer { unlink(path) }
        TraceFiles.store(sample.bytes, path)
        for stopAfter in 0..<min(sample.chunks.count, 8) {
            var r: TraceReader? = try TraceReader(path: path, prefetch: true)
            for _ in 0..<stopAfter { _ = try r?.nextChunk(visit: { _ in }) }
            #expect(Self.openFds(of: path) == 1, "the open reader's fd is seen")
            r = nil  // deinit stops the thread (joins it) before closing the fd
        }
        // Every reader above closed its fd: none of this process's fds is the file any more.
        #expect(Self.openFds(of: path) == 0)
    }
}
