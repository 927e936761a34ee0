import TestSupport
import Testing
import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Version 2 chunk bodies (columns) that pass every CRC yet lie: each is damage, the chunk is skipped whole (none
/// of its events handed over), the next chunk reads, and the damage names what and where. Bodies are built by
/// `HostileTraces.ColumnBody` from docs/FORMAT.md's layout, not by the encoder.
@Suite struct ColumnChunkTests {
    typealias Body = HostileTraces.ColumnBody

    static func read(_ chunks: [(body: [UInt8], events: UInt32)]) throws -> (events: [TraceEvent], damage: [TraceError]) {
        let path = TraceFiles.temporaryPath("columns")
        defer { unlink(path) }
        try HostileTraces.write(chunks, to: path, version: 2)
        let r = TraceFiles.readable(path)
        if let e = r.error { throw e }
        return (r.events, r.damage)
    }

    /// `n` lost-events records (count 1, from 0, to 0).
    static func lost(_ n: Int) -> (body: [UInt8], events: UInt32) {
        var b = Body()
        for _ in 0..<n { b.event(kind: 15, [1, 0, 0]) }
        return (b.bytes, UInt32(n))
    }

    /// One marker with `n` fields, every key and value the one empty string.
    static func marker(_ n: Int) -> Body {
        var b = Body()
        b.strings = [""]
        b.event(kind: 14, [0, 0, 0, UInt64(n)], items: [Array(repeating: 0, count: n), Array(repeating: 0, count: n)])
        return b
    }

    /// One region_info with `n` sparse areas.
    static func areas(_ n: Int) -> Body {
        var b = Body()
        b.strings = ["0000:00:01.0"]
        b.event(kind: 4, [10, 0, 0, 7, 4096, 0, 0, 0, 0, UInt64(n) + 1], items: [Array(repeating: 0, count: n), Array(repeating: 4096, count: n)])
        return b
    }

    /// One irq_binding with `n` eventfds (fd 9, zigzag 18).
    static func eventfds(_ n: Int) -> Body {
        var b = Body()
        b.strings = ["0000:00:01.0"]
        b.event(kind: 5, [10, 0, 2, 0, UInt64(n), 0x24, UInt64(n)], items: [Array(repeating: 18, count: n)])
        return b
    }

    static func craft(_ what: String, _ n: Int) -> Body {
        what == "marker fields" ? marker(n) : what == "sparse areas" ? areas(n) : eventfds(n)
    }

    @Test("lists at their limit read as written; one item more is damage naming the limit", arguments: ["marker fields", "sparse areas", "irq eventfds"])
    func listLimits(what: String) throws {
        let words = "list of"
        let craft = { (n: Int) in Self.craft(what, n) }
        let limit = TraceFormat.maxListItems
        let atLimit = try Self.read([(craft(limit).bytes, 1)])
        #expect(atLimit.damage.isEmpty, "\(what): \(atLimit.damage)")
        let e = try #require(atLimit.events.first)
        switch e.payload {
        case .marker(let m): #expect(m.fields.count == limit && m.fields.allSatisfy { $0.key.isEmpty && $0.value.isEmpty })
        case .regionInfo(let r): #expect(r.sparseAreas?.count == limit && r.sparseAreas?.allSatisfy { $0.offset == 0 && $0.size == 4096 } == true)
        case .irqBinding(let b): #expect(b.eventfds == Array(repeating: 9, count: limit))
        default: Issue.record("\(what): read back as \(e.kind.name)")
        }
        let over = try Self.read([(craft(limit + 1).bytes, 1), Self.lost(3)])
        #expect(over.events.count == 3, "\(what): the chunk after the lying one still reads")
        let d = try #require(over.damage.first)
        #expect(d.code == .corruptChunk && d.chunk == 0)
        #expect(d.message.contains(words) && d.message.contains("\(limit)"), "\(d.message)")
    }

    @Test("a malformed chunk hands over none of its events, and the damage names the byte")
    func malformedKind() throws {
        for good in [0, 1, 511, 512, 513, 1300] {
            var b = Body()
            for i in 0..<good { b.event(kind: 9, [1, 18, UInt64(i), 0]) }
            b.kinds.append(200)
            b.flags.append(0)
            b.header[0].append(2)
            let r = try Self.read([(b.bytes, UInt32(good + 1)), Self.lost(2)])
            #expect(r.events.count == 2, "\(good) good events: only the next chunk's")
            let d = try #require(r.damage.first)
            // The kind column starts after the empty table (1 byte), the base time (8) and its width byte (1).
            #expect(d.message.contains("unknown event kind 200") && d.message.contains("raw byte \(10 + good)"), "\(d.message)")
        }
    }

    @Test("a value a column may not hold is damage: an enum, a string index, a reserved flag, a width past its field")
    func badValues() throws {
        var enumBad = Body()
        enumBad.event(kind: 9, [3, 18, 1, 0])  // eventfd operation 3
        var stringBad = Body()
        stringBad.strings = ["a"]
        stringBad.event(kind: 3, [10, 12, 1])  // device_open's device: index 1 of a table of 1
        var flagBad = Body()
        flagBad.event(kind: 15, [1, 0, 0])
        flagBad.flags[0] = 0x10
        var wide = Body()
        wide.event(kind: 2, [10, 3, 0xAE80, 0])
        wide.widths["2.2"] = 8  // ioctl request: a u32, at most 4 bytes
        var kindWidth = Self.lost(1).body
        kindWidth[9] = 2  // the kind column's width byte
        let cases: [(String, [UInt8], String)] = [
            ("enum", enumBad.bytes, "unknown enum value 3"),
            ("string", stringBad.bytes, "string index 1 outside table of 1"),
            ("flags", flagBad.bytes, "reserved event flags 16"),
            ("width", wide.bytes, "column width 8 not allowed here (at most 4)"),
            ("kind width", kindWidth, "kind column must be 1 byte wide"),
            ("trailing", Self.lost(1).body + [0], "1 bytes after the last column"),
            ("cut", Array(Self.lost(4).body.dropLast()), "unexpected end of data"),
        ]
        for (what, body, words) in cases {
            let r = try Self.read([(body, what == "cut" ? 4 : 1), Self.lost(1)])
            #expect(r.events.count == 1, "\(what)")
            #expect(r.damage.first?.message.contains(words) == true, "\(what): \(r.damage)")
        }
    }

    @Test("a reserved flag anywhere is damage naming its byte, the last of a chunk's flags included", arguments: [0, 63, 64, 100, 130])
    func reservedFlagAnywhere(at: Int) throws {
        var b = Body()
        for _ in 0..<131 { b.event(kind: 15, [1, 0, 0]) }
        b.flags[at] = 0x20
        let r = try Self.read([(b.bytes, 131), Self.lost(1)])
        #expect(r.events.count == 1)
        // The string table's count, the base time, the kind column (width byte and 131 kinds), the flags' width byte.
        let position = 1 + 8 + 1 + 131 + 1 + at
        #expect(r.damage.first?.message.contains("reserved event flags 32") == true, "\(r.damage)")
        #expect(r.damage.first?.message.contains("raw byte \(position)") == true, "\(r.damage)")
    }

    @Test("each event's pid, tid and result: carried from the last event that has one, across blocks of 64, as FORMAT.md says")
    func headerValuesAcrossBlocks() throws {
        // 300 events; pids on every 7th from event 3 and on event 64, tids (negative too) on every 5th from event 5,
        // results on every 3rd from event 1. What each event reads is worked out here from the format's words:
        // "otherwise the previous event's pid (0 for the first)", the same for the tid, "otherwise 0" for the result.
        var b = Body()
        var want: [(pid: Int32, tid: Int32, result: Int64)] = []
        var pid: Int32 = 0
        var tid: Int32 = 0
        for i in 0..<300 {
            b.event(kind: 15, [1, 0, 0])
            var f: UInt8 = 0
            if i % 7 == 3 || i == 64 {
                f |= 2
                pid = Int32(1000 + i)
                b.header[2].append(Body.zigzag(Int64(pid)))
            }
            if i % 5 == 0 && i > 0 {
                f |= 4
                tid = i % 2 == 0 ? Int32(-i) : Int32(70_000 + i)
                b.header[3].append(Body.zigzag(Int64(tid)))
            }
            var result: Int64 = 0
            if i % 3 == 1 {
                f |= 8
                result = Int64(i) - 150
                b.header[4].append(Body.zigzag(result))
            }
            b.flags[i] = f
            want.append((pid, tid, result))
        }
        let r = try Self.read([(b.bytes, 300)])
        #expect(r.damage.isEmpty)
        #expect(r.events.count == 300)
        for (i, e) in r.events.enumerated() where i < want.count {
            #expect(e.pid == want[i].pid && e.tid == want[i].tid && e.result == want[i].result, "event \(i): \(e.pid) \(e.tid) \(e.result)")
        }
        // Spot values worked by hand: event 2 precedes every pid and tid; event 64 carries pid 1064 (it is also
        // 64 % 7 = 1, no 7th), event 66 has a pid of its own (66 % 7 = 3) and the tid of event 65 (70 065), event
        // 299 the pid of event 297.
        #expect(r.events[2].pid == 0 && r.events[2].tid == 0 && r.events[2].result == 0)
        #expect(r.events[64].pid == 1064 && r.events[64].tid == -60 && r.events[64].result == -86)
        #expect(r.events[66].pid == 1066 && r.events[66].tid == 70_065 && r.events[66].result == 0)
        #expect(r.events[299].pid == 1297 && r.events[299].tid == 70_295 && r.events[299].result == 0)
    }

    @Test("a chunk whose pid is one throughout (carried by its first event only, or by none) and the chunks around it")
    func onePidChunks() throws {
        // 200 events each: pid 4242 on event 0 only; no pid at all; pid 77 on event 5 only (events 0–4 have none);
        // pid 4242 again on event 0 only, then 9 on event 130. Per FORMAT.md a pid is carried within its chunk only.
        func chunk(_ pids: [Int: Int32]) -> (body: [UInt8], events: UInt32) {
            var b = Body()
            for i in 0..<200 {
                b.event(kind: 15, [1, 0, 0])
                if let pid = pids[i] {
                    b.flags[i] = 2
                    b.header[2].append(Body.zigzag(Int64(pid)))
                }
            }
            return (b.bytes, 200)
        }
        let r = try Self.read([chunk([0: 4242]), chunk([:]), chunk([5: 77]), chunk([0: 4242, 130: 9])])
        #expect(r.damage.isEmpty)
        let pids = r.events.map(\.pid)
        #expect(pids.count == 800)
        #expect(pids[0..<200].allSatisfy { $0 == 4242 })
        #expect(pids[200..<400].allSatisfy { $0 == 0 })
        #expect(pids[400..<405].allSatisfy { $0 == 0 } && pids[405..<600].allSatisfy { $0 == 77 })
        #expect(pids[600..<730].allSatisfy { $0 == 4242 } && pids[730..<800].allSatisfy { $0 == 9 })
    }

    @Test("list items take at least a byte each: items of width 0, or more than the chunk's bytes, are damage")
    func itemBombs() throws {
        // 1,000 markers of 4,096 fields: four million items, which at width 0 would take no bytes at all.
        var b = Body()
        b.strings = [""]
        for _ in 0..<1_000 { b.event(kind: 14, [0, 0, 0, 4096]) }
        b.widths["14.4"] = 0
        b.widths["14.5"] = 0
        let zero = try Self.read([(b.bytes, 1_000), Self.lost(1)])
        #expect(zero.events.count == 1)
        #expect(zero.damage.first?.message.contains("column width 0 not allowed") == true, "\(zero.damage)")
        b.widths["14.4"] = 1
        let short = try Self.read([(b.bytes, 1_000), Self.lost(1)])
        #expect(short.events.count == 1)
        #expect(short.damage.first?.message.contains("4096000 values of 1 bytes runs past the end") == true, "\(short.damage)")
    }

    @Test("a header declaring more events than a version 2 chunk may hold is damage before anything is allocated")
    func eventCountLies() throws {
        var lie = Self.lost(4)
        lie.events = UInt32(lie.body.count + 1)  // a kind byte each is the least an event takes
        let r = try Self.read([lie, Self.lost(2)])
        #expect(r.events.count == 2)
        #expect(r.damage.contains { $0.message.contains("cannot fit in raw size") }, "\(r.damage)")

        let n = TraceFormat.maxEventsPerChunk + 1
        var many = Body()
        many.kinds = Array(repeating: 15, count: n)
        many.flags = Array(repeating: 0, count: n)
        many.header[0] = Array(repeating: 0, count: n)
        many.columns[15] = Array(repeating: Array(repeating: 0, count: n), count: 3)
        let r2 = try Self.read([(many.bytes, UInt32(n)), Self.lost(2)])
        #expect(r2.events.count == 2)
        #expect(r2.damage.contains { $0.message.contains("exceeds the \(TraceFormat.maxEventsPerChunk) a chunk may hold") }, "\(r2.damage)")
    }

    @Test("the writer seals at the most events a chunk may hold, and before one wide value widens a chunk past 16 MiB")
    func writerSealsBeforeWidening() throws {
        let path = TraceFiles.temporaryPath("widen")
        defer { unlink(path) }
        // Mappings whose every number is 0 take two bytes each (kind and flags); one of all-large numbers then widens
        // seventeen columns of a quarter million rows to 8 bytes: 35 MiB, were it in the same chunk.
        let zero = TraceEvent(time: 0, pid: 0, tid: 0, payload: .mapping(MappingChange(operation: .mmap, fd: 0, device: "", region: 0, address: 0, length: 0)))
        let big = TraceEvent(
            time: .max, endTime: 1, pid: .min, tid: .min, result: .min,
            payload: .mapping(
                MappingChange(
                    operation: .mremap, fd: .min, device: "d", region: .min, regionOffset: .max, address: .max, length: .max, newAddress: .max,
                    newLength: .max, prot: .max, flags: .max, fileOffset: .max)))
        let n = TraceFormat.maxEventsPerChunk
        let events = Array(repeating: zero, count: 2 * n - 1) + [big] + Array(repeating: zero, count: 5)
        var options = TraceWriter.Options()
        options.maxChunkAgeNs = .max  // sealed by size and count only, however slowly this runs
        let w = try TraceWriter(path: path, header: TraceHeader.forThisHost(source: "test", command: [], pids: [1]), options: options)
        for e in events { try w.append(e) }
        try w.close()
        let r = try TraceReader(path: path)
        var counts: [UInt32] = []
        var read: [TraceEvent] = []
        while let h = try r.nextChunk(into: &read) { counts.append(h.eventCount) }
        #expect(r.damage.isEmpty, "\(r.damage)")
        #expect(read == events)
        #expect(counts == [UInt32(n), UInt32(n - 1), 6], "sealed at \(n) events, then before the wide event")
    }
}
