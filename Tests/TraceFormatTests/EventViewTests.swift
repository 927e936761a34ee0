import TestSupport
import Testing

@testable import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Events read in place (`nextChunk(views:)`) are the events that were written, field for field, and a
/// malformed event stops a chunk at the same place on both reading paths.
@Suite struct EventViewTests {
    @Test("a checked kind byte is its kind without a table: EventKind's cases are declared in raw-value order from 1")
    func kindTags() {
        for k in EventKind.allCases { #expect(ChunkDecoder.ColumnCursor.kind(checked: k.rawValue) == k) }
        #expect(EventKind.allCases.map(\.rawValue) == Array(1...15))
    }

    @Test("a view's payload is the written event's, and its fast accessors agree", arguments: [5, 77, 2026] as [UInt64])
    func viewsMatchWrittenEvents(seed: UInt64) throws {
        var gen = RandomEvents(seed: seed)
        let events = gen.events(4000)
        let path = TraceFiles.temporaryPath("views")
        defer { unlink(path) }
        // Chunks of both sizes: many small ones (string tables restart) and batches beyond one (512 views).
        _ = try TraceFiles.write(events, to: path, chunkBytes: 64 << 10)
        let r = try TraceReader(path: path)
        var seen = 0
        var firstMismatch: Int?
        var accessorMismatch: Int?
        while try r.nextChunk(views: { v in
            defer { seen += 1 }
            guard seen < events.count else { return }
            let want = events[seen]
            if v.event != want || v.header != want.header || v.kind != want.kind { firstMismatch = firstMismatch ?? seen }
            let fast: Bool
            switch want.payload {
            case .ioctl(let p): fast = v.ioctlRequest == p.request && v.eventfd == nil && v.accessedRegion == nil
            case .eventfd(let p): fast = v.eventfd == p && v.ioctlRequest == nil && v.accessedRegion == nil
            case .regionAccess(let p):
                fast = v.accessedRegion == p.region && v.accessedDevice == p.device && v.ioctlRequest == nil && v.eventfd == nil
            default: fast = v.ioctlRequest == nil && v.eventfd == nil && v.accessedRegion == nil && v.accessedDevice == nil
            }
            if !fast { accessorMismatch = accessorMismatch ?? seen }
        }) != nil {}
        #expect(seen == events.count)
        #expect(firstMismatch == nil, "first differing event at index \(firstMismatch ?? -1)")
        #expect(accessorMismatch == nil, "fast accessors disagree at index \(accessorMismatch ?? -1)")
        #expect(r.damage.isEmpty)
    }

    /// A chunk of `good` valid eventfd writes (fd i, value i) and then one event of an unknown kind.
    static func chunkBrokenAfter(_ good: Int) -> (body: [UInt8], events: UInt32) {
        var b = HostileTraces.Body()
        b.varint(0)  // no strings
        for i in 0..<good {
            b.event(kind: EventKind.eventfd.rawValue)
            b.u8(EventfdOp.Operation.write.rawValue)
            b.zigzag(Int64(i))
            b.varint(UInt64(i))
            b.varint(0)
        }
        b.event(kind: 200)
        // Padding, so the chunk holds the 6 bytes per declared event a reader demands (docs/FORMAT.md).
        b.bytes.append(contentsOf: repeatElement(0, count: 16))
        return (b.bytes, UInt32(good + 1))
    }

    @Test("a malformed event: both paths visit exactly the events before it, across batches, and name the byte")
    func malformedEventStopsBothPaths() throws {
        for good in [0, 1, 511, 512, 513, 1300] {
            let path = TraceFiles.temporaryPath("views-bad")
            defer { unlink(path) }
            try HostileTraces.write([Self.chunkBrokenAfter(good)], to: path)

            var viewed: [UInt64] = []
            let r1 = try TraceReader(path: path)
            while try r1.nextChunk(views: { v in viewed.append(v.eventfd?.value ?? .max) }) != nil {}
            var owned: [UInt64] = []
            let r2 = try TraceReader(path: path)
            while try r2.nextChunk(visit: { e in
                if case .eventfd(let p) = e.payload { owned.append(p.value) } else { owned.append(.max) }
            }) != nil {}

            // Expected from the crafted chunk itself: values 0..<good, then nothing.
            #expect(viewed == (0..<good).map(UInt64.init), "views, \(good) good events")
            #expect(owned == viewed, "owned events, \(good) good events")
            let damage = r1.damage.first { $0.code == .corruptChunk }
            #expect(damage?.message.contains("unknown event kind 200") == true, "\(String(describing: damage))")
            #expect(r2.damage.map(\.message) == r1.damage.map(\.message))
        }
    }

    @Test("the decoder's error text is built from its numbers only when reported")
    func malformedText() {
        let bytes: [UInt8] = [0x80, 0x80, 0x80, 0x80, 0x10]  // 0x10 << 28: past 32 bits
        bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            do throws(ByteReader.Malformed) {
                _ = try r.varint32()
                Issue.record("a 33-bit value read as 32 bits")
            } catch {
                #expect(error.message == "value \(UInt64(0x10) << 28) exceeds 32 bits")
            }
        }
        bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            do throws(ByteReader.Malformed) {
                _ = try r.listCount()
                Issue.record("a count beyond the data accepted")
            } catch {
                #expect(error.message == "count \(UInt64(0x10) << 28) exceeds the 0 bytes that remain")
            }
        }
    }
}

extension EventViewTests {
    @Test("the decoder's inlined kind table is the enum's raw values, and nothing else")
    func kindTable() {
        for raw in 0...255 {
            #expect(EventKind.decoded(UInt8(raw)) == EventKind(rawValue: UInt8(raw)), "raw \(raw)")
        }
    }
}
