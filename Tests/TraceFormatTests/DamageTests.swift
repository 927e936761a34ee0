import Testing

@testable import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Crash safety: truncated and corrupted files read back every intact chunk and say where they are damaged.
@Suite struct DamageTests {
    /// A small multi-chunk file with its chunk spans taken from the writer's footer index.
    struct Sample {
        var events: [TraceEvent]
        var bytes: [UInt8]
        var headerEnd: Int
        /// (start, end, first event index, event count) per chunk.
        var chunks: [(start: Int, end: Int, first: Int, count: Int)]
        var footerStart: Int

        func events(ofChunksNot excluded: Int?) -> [TraceEvent] {
            chunks.enumerated().filter { $0.offset != excluded }.flatMap { Array(events[$0.element.first..<($0.element.first + $0.element.count)]) }
        }
    }

    static func makeSample(seed: UInt64 = 7, count: Int = 60) throws -> Sample {
        var gen = RandomEvents(seed: seed)
        let events = gen.events(count)
        let path = TraceFiles.temporaryPath("sample")
        defer { unlink(path) }
        _ = try TraceFiles.write(events, to: path, chunkBytes: 400)
        let bytes = TraceFiles.bytes(path)
        let r = try TraceReader(path: path)
        _ = try r.readAll()
        let entries = try #require(r.footer?.entries)
        let footerStart = bytes.count - 16 - TraceFooter.size(entries: entries.count)
        var chunks: [(Int, Int, Int, Int)] = []
        var first = 0
        for (i, e) in entries.enumerated() {
            let end = i + 1 < entries.count ? Int(entries[i + 1].offset) : footerStart
            chunks.append((Int(e.offset), end, first, Int(e.eventCount)))
            first += Int(e.eventCount)
        }
        return Sample(events: events, bytes: bytes, headerEnd: Int(entries[0].offset), chunks: chunks, footerStart: footerStart)
    }

    @Test("a file cut at every byte offset reads back every whole chunk before the cut")
    func cutAtEveryByte() throws {
        let s = try Self.makeSample()
        #expect(s.chunks.count >= 4)
        let path = TraceFiles.temporaryPath("cut")
        defer { unlink(path) }
        for cut in 0..<s.bytes.count {
            TraceFiles.store(Array(s.bytes[0..<cut]), path)
            let (events, damage, error) = TraceFiles.readable(path)
            if cut == 0 {
                #expect(error?.code == .notATrace)
                continue
            }
            if cut < s.headerEnd {
                #expect(error?.code == .truncated, "cut at \(cut) inside the header")
                continue
            }
            #expect(error == nil, "cut at \(cut)")
            let whole = s.chunks.filter { $0.end <= cut }
            let expected = Array(s.events[0..<whole.reduce(0) { $0 + $1.count }])
            #expect(events == expected, "cut at \(cut)")
            #expect(!damage.isEmpty, "cut at \(cut) must be reported")
            #expect(damage.contains { $0.code == .truncated }, "cut at \(cut): \(damage)")
        }
        TraceFiles.store(s.bytes, path)
        let full = TraceFiles.readable(path)
        #expect(full.events == s.events)
        #expect(full.damage.isEmpty)
    }

    @Test("a flipped bit loses only the chunk it hits, and the damage names that chunk", arguments: [1, 2, 3] as [UInt64])
    func bitFlips(seed: UInt64) throws {
        let s = try Self.makeSample(seed: seed)
        var rng = SplitMix64(seed: seed &* 31)
        let path = TraceFiles.temporaryPath("flip")
        defer { unlink(path) }
        for _ in 0..<1000 {
            var bytes = s.bytes
            let at = Int(rng.next() % UInt64(bytes.count))
            bytes[at] ^= UInt8(1) << (rng.next() % 8)
            TraceFiles.store(bytes, path)
            let (events, damage, error) = TraceFiles.readable(path)
            if at < s.headerEnd {
                #expect(error != nil, "flip at \(at) in the file header must be detected")
                continue
            }
            #expect(error == nil)
            if at >= s.footerStart {
                #expect(events == s.events, "flip at \(at) in the footer keeps every chunk")
                #expect(!damage.isEmpty, "flip at \(at) in the footer must be reported")
                continue
            }
            let hit = try #require(s.chunks.firstIndex { at >= $0.start && at < $0.end })
            #expect(events == s.events(ofChunksNot: hit), "flip at \(at) in chunk \(hit)")
            #expect(damage.contains { $0.chunk == UInt64(hit) && $0.code != .truncated }, "flip at \(at): \(damage)")
        }
    }

    @Test("random garbage never crashes the reader")
    func garbage() throws {
        var rng = SplitMix64(seed: 99)
        let valid = try Self.makeSample().bytes
        let path = TraceFiles.temporaryPath("garbage")
        defer { unlink(path) }
        for i in 0..<1500 {
            let n = Int(rng.next() % 3000)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            switch i % 3 {
            case 0: break  // pure noise
            case 1: bytes = Array(valid[0..<min(valid.count, 200)]) + bytes  // a valid header, then noise
            default:
                // Valid file with a random run of bytes overwritten.
                bytes = valid
                let at = Int(rng.next() % UInt64(valid.count))
                for j in at..<min(valid.count, at + 1 + Int(rng.next() % 64)) { bytes[j] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            TraceFiles.store(bytes, path)
            let (events, damage, error) = TraceFiles.readable(path)
            if i % 3 == 0 && n >= 8 { #expect(error?.code == .notATrace || error?.code == .truncated || error != nil) }
            if i % 3 == 1 { #expect(error == nil && !damage.isEmpty, "noise after a valid header must be reported") }
            #expect(events.count <= valid.count)
        }
    }

    @Test("empty file, wrong magic and a newer format version are refused clearly")
    func refusals() throws {
        let path = TraceFiles.temporaryPath("refuse")
        defer { unlink(path) }
        TraceFiles.store([], path)
        #expect(TraceFiles.readable(path).error?.code == .notATrace)
        TraceFiles.store(Array("GIF89a not a trace".utf8), path)
        #expect(TraceFiles.readable(path).error?.code == .notATrace)
        var bytes = try Self.makeSample().bytes
        bytes[8] = 3  // format version 3
        TraceFiles.store(bytes, path)
        let e = TraceFiles.readable(path).error
        #expect(e?.code == .unsupportedVersion)
        #expect(e?.description.contains("newer") == true)
    }

    @Test("a chunk header claiming a huge body is reported as truncation without reading it")
    func hugeLengthField() throws {
        let s = try Self.makeSample()
        // Forge a header with a correct CRC claiming 12 MiB of compressed data (within the sizes a reader accepts).
        let h = ChunkHeader(sequence: 0, eventCount: 1, firstTime: 0, lastTime: 0, rawSize: 12 << 20, compressedSize: 12 << 20, crc: 0)
        let bytes = Array(s.bytes[0..<s.headerEnd]) + h.encode() + [1, 2, 3]
        let path = TraceFiles.temporaryPath("huge")
        defer { unlink(path) }
        TraceFiles.store(bytes, path)
        let (events, damage, error) = TraceFiles.readable(path)
        #expect(error == nil)
        #expect(events.isEmpty)
        #expect(damage.first?.code == .truncated)
        #expect(damage.first?.chunk == 0)
    }
}
