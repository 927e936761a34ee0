import TestSupport
import Testing
import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Chunks that pass every CRC yet lie about what they hold: each is damage, reported like any other, and
/// no reader allocates more than docs/FORMAT.md ("What a reader allocates") allows.
@Suite struct HostileTraceTests {
    static func read(_ chunks: [(body: [UInt8], events: UInt32)]) throws -> (events: [TraceEvent], damage: [TraceError]) {
        let path = TraceFiles.temporaryPath("hostile")
        defer { unlink(path) }
        try HostileTraces.write(chunks, to: path)
        let r = TraceFiles.readable(path)
        if let e = r.error { throw e }
        return (r.events, r.damage)
    }

    @Test(
        "a list or table past its limit is damage naming the limit; one at the limit reads",
        arguments: [
            ("string table", HostileTraces.stringTableBomb, TraceFormat.maxStringsPerChunk, "string table"),
            ("marker fields", HostileTraces.markerFieldBomb, TraceFormat.maxListItems, "list of"),
            ("sparse areas", HostileTraces.sparseAreaBomb, TraceFormat.maxListItems, "sparse area count"),
            ("irq eventfds", HostileTraces.irqFdBomb, TraceFormat.maxListItems, "list of"),
        ] as [(String, @Sendable (Int) -> (body: [UInt8], events: UInt32), Int, String)])
    func listLimits(what: String, craft: @Sendable (Int) -> (body: [UInt8], events: UInt32), limit: Int, words: String) throws {
        let atLimit = try Self.read([craft(limit)])
        #expect(atLimit.damage.isEmpty, "\(what): \(atLimit.damage)")
        #expect(atLimit.events.count == 1)
        let over = try Self.read([craft(limit + 1), HostileTraces.lostRecords(3)])
        #expect(over.events.count == 3, "\(what): the chunk after the lying one still reads")
        let d = try #require(over.damage.first)
        #expect(d.code == .corruptChunk)
        #expect(d.chunk == 0)
        #expect(d.message.contains(words), "\(d.message)")
    }

    @Test("a header declaring more events than its raw size can hold is damage before anything is allocated")
    func eventCountLie() throws {
        var lie = HostileTraces.lostRecords(4)
        lie.events = UInt32(lie.body.count)  // 6 bytes are the least an event takes
        let r = try Self.read([lie, HostileTraces.lostRecords(2)])
        #expect(r.events.count == 2)
        #expect(r.damage.contains { $0.message.contains("cannot fit in raw size") })
    }

    @Test("the writer refuses an event over a per-event limit, names it, and keeps writing")
    func writerRefusesOversizedEvents() throws {
        let path = TraceFiles.temporaryPath("limits")
        defer { unlink(path) }
        let w = try TraceWriter(path: path, header: TraceHeader())
        let fields = (0...TraceFormat.maxListItems).map { Marker.Field("k\($0)", "v") }
        let many = TraceEvent(time: 10, pid: 1, tid: 1, payload: .marker(Marker(source: "s", name: "n", fields: fields)))
        #expect(throws: TraceError(.invalidEvent, "")) { try w.append(many) }
        let huge = String(repeating: "x", count: TraceFormat.maxEventBytes + 1)
        let big = TraceEvent(time: 11, pid: 1, tid: 1, payload: .marker(Marker(source: "s", name: huge)))
        #expect(throws: TraceError(.invalidEvent, "")) { try w.append(big) }
        let ok = TraceEvent(time: 12, pid: 1, tid: 1, payload: .marker(Marker(source: "s", name: "after")))
        try w.append(ok)
        try w.close()
        let r = TraceFiles.readable(path)
        #expect(r.damage.isEmpty)
        #expect(r.events == [ok], "the refused events left nothing behind in the chunk")
    }

    @Test("the writer seals before its string table outgrows what a reader accepts")
    func writerSealsOnStringCount() throws {
        let path = TraceFiles.temporaryPath("strings")
        defer { unlink(path) }
        let n = TraceFormat.maxStringsPerChunk + 5_000
        let events = (0..<n).map { i in
            TraceEvent(time: UInt64(i), pid: 1, tid: 1, payload: .deviceOpen(DeviceOpen(fd: 3, groupFd: 4, device: "d\(i)")))
        }
        _ = try TraceFiles.write(events, to: path)
        let r = TraceFiles.readable(path)
        #expect(r.damage.isEmpty)
        #expect(r.events.count == n)
        #expect(r.events.last == events.last)
    }

    @Test("a zstd bomb of empty strings costs a reader what its raw size allows, not a gigabyte")
    func stringBombMemory() throws {
        let bin = BuildProducts.path("vfiotrace")
        let path = TraceFiles.temporaryPath("bomb")
        defer { unlink(path) }
        // 15 MB of zero bytes: a few KB compressed; as 15 M table entries it took about 1 GB before the limit.
        try HostileTraces.write([HostileTraces.stringTableBomb(15_000_000)], to: path)
        let out = try ChildProcess.run(bin, ["verify", path])
        #expect(out.signal == nil)
        #expect(out.status == 1, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("string table") || out.stderr.contains("string table"))
        // The reader's own allowance: the 16 MiB raw buffer, the compressed bytes, the process itself.
        print("verify of a 15 MB zstd bomb of empty strings: peak RSS \(out.maxRSSKiB) KiB")
        #expect(out.maxRSSKiB < 64 * 1024, "peak RSS \(out.maxRSSKiB) KiB")
    }

    @Test("a tid delta that overflows 64 bits is damage (found by the hostile-input run)")
    func tidDeltaOverflow() throws {
        var b = HostileTraces.Body()
        b.varint(0)
        b.u8(15)  // lost
        b.u8(2 | 4)  // pid and tid follow
        b.zigzag(1)
        b.zigzag(Int64(Int32.max))  // pid
        b.zigzag(Int64.max)  // tid - pid: the sum overflows
        b.varint(1); b.varint(0); b.varint(0)
        let r = try Self.read([(b.bytes, 1), HostileTraces.lostRecords(1)])
        #expect(r.events.count == 1)
        #expect(r.damage.first?.message.contains("tid out of range") == true)
    }

    @Test("a region index past Int32 renders as an unknown region (found by the hostile-input run)")
    func regionIndexRendering() {
        let e = TraceEvent(
            time: 1, pid: 1, tid: 1,
            payload: .regionInfo(RegionInfo(fd: 3, device: "d", index: .max, flags: 0, size: 0, offset: 0, sparseAreas: nil)))
        #expect(EventText.line(e).contains("index=4294967295 (?)"))
    }
}
