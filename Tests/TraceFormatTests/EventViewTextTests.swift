import Testing

@testable import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// `dump`'s lines formatted from views (`EventViewFormatter`): a chunk's strings escaped once and reused while the
/// chunk lasts, never carried over to a chunk whose table differs; lines against values worked out by hand.
@Suite struct EventViewTextTests {
    static func text(_ build: (inout ByteCursor) -> Void) -> String {
        var b = TextBuffer()
        LineScratch(capacity: 64).write(into: &b, build)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    static func escaped(_ s: inout EscapedStrings, _ i: Int) -> String { text { s.write(i, into: &$0) } }

    @Test("an escaped string is made once per table and reused; a new table (even in the same array) starts afresh")
    func cacheFollowsTheTable() {
        var s = EscapedStrings(.terminal)
        var table = ["dev\n0", "plain", ""]
        s.use(table)
        #expect(Self.escaped(&s, 0) == "dev\\n0")
        #expect(Self.escaped(&s, 0) == "dev\\n0")
        #expect(Self.escaped(&s, 1) == "plain")
        #expect(s.made == 2)
        // The same table again (the next batch of the same chunk): nothing made again.
        s.use(table)
        #expect(Self.escaped(&s, 0) == "dev\\n0")
        #expect(s.made == 2)
        #expect(s.isEmpty(2) && !s.isEmpty(1))
        // The next chunk's table read into the same array, as the decoder reads it: index 0 is another string.
        table.removeAll(keepingCapacity: true)
        table.append("a\\b\u{1B}[2J")
        s.use(table)
        #expect(s.made == 0)
        #expect(Self.escaped(&s, 0) == "a\\\\b\\x1b[2J")
        #expect(s.made == 1)
        // Outside the table: nothing written, nothing trapped.
        #expect(Self.escaped(&s, 1) == "")
        #expect(Self.escaped(&s, -1) == "")
        // A table with the same strings in other storage is not trusted to be the same: made again.
        s.use(["a\\b\u{1B}[2J"])
        #expect(s.made == 0)
        #expect(Self.escaped(&s, 0) == "a\\\\b\\x1b[2J")
    }

    @Test("JSON forms are quoted string literals; the empty string is two quotes")
    func jsonForms() {
        var s = EscapedStrings(.json)
        s.use(["say \"hi\"\n", "", "0000:3b:00.0"])
        #expect(Self.escaped(&s, 0) == "\"say \\\"hi\\\"\\n\"")
        #expect(Self.escaped(&s, 1) == "\"\"")
        #expect(Self.escaped(&s, 2) == "\"0000:3b:00.0\"")
        #expect(s.isEmpty(1) && !s.isEmpty(2))
    }

    @Test("numbers written by the cursor, against hand-worked digits")
    func numbers() {
        let unsigned: [(UInt64, String)] = [
            (0, "0"), (9, "9"), (10, "10"), (99, "99"), (100, "100"), (9_999, "9999"), (10_000, "10000"), (12_345, "12345"),
            (1_000_000_007, "1000000007"), (UInt64.max, "18446744073709551615"),
        ]
        for (v, want) in unsigned { #expect(Self.text { $0.decimal(v) } == want, "\(v)") }
        #expect(Self.text { $0.decimal(Int64.min) } == "-9223372036854775808")
        #expect(Self.text { $0.decimal(Int32(-1)) } == "-1")
        let hex: [(UInt64, String)] = [(0, "0x0"), (0xF, "0xf"), (0x10, "0x10"), (0xABC, "0xabc"), (UInt64.max, "0xffffffffffffffff")]
        for (v, want) in hex { #expect(Self.text { $0.hex(v) } == want, "\(v)") }
        #expect(Self.text { $0.padded(42, width: 5) } == "00042")
        var b = TextBuffer()
        b.decimal(Int64(-120))
        b.hex(255)
        #expect(String(decoding: b.bytes, as: UTF8.self) == "-1200xff")
    }

    @Test("a line longer than the scratch is written again with more room, whole")
    func longLine() {
        let long = String(repeating: "ab", count: 3000)
        #expect(Self.text { $0.append(long); $0.decimal(UInt64(7)) } == long + "7")
    }

    /// A pread of `device`'s BAR0 at 0x10, 4 bytes, value 42: 2.5 µs from 1.5 s.
    static func access(_ device: String, pid: Int32 = 10) -> TraceEvent {
        TraceEvent(
            time: 1_500_000_000, endTime: 1_500_002_500, pid: pid, tid: pid, result: 4,
            payload: .regionAccess(RegionAccess(operation: .read, fd: 7, device: device, region: 0, offset: 0x10, length: 4, value: 42)))
    }

    /// Every line `dump` prints for `path`, from views.
    static func dump(_ path: String, _ format: EventViewFormatter.Format) throws -> [String] {
        let r = try TraceReader(path: path)
        var f = EventViewFormatter(format)
        var b = TextBuffer()
        while try r.nextChunk(batches: { batch in
            f.writeLines(batch, keeping: { _ in true }, into: &b, flushAt: .max) { _ in }
        }) != nil {}
        return String(decoding: b.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test("two chunks naming different devices by the same table index: each line shows its own chunk's device")
    func stringsDoNotCrossChunks() throws {
        let path = TraceFiles.temporaryPath("viewtext")
        defer { unlink(path) }
        let w = try TraceFiles.write([Self.access("dev-A"), Self.access("dev-A", pid: 11)], to: path, close: false)
        try w.flush()
        // Index 0 of the second chunk's table: a name that tries to clear the screen and start a line.
        for e in [Self.access("dev\u{1B}[2J\nB"), Self.access("dev\u{1B}[2J\nB", pid: 11)] { try w.append(e) }
        try w.close()
        #expect(w.chunksWritten == 2)
        #expect(
            try Self.dump(path, .text) == [
                "1.500000000 10 pread64(7<dev-A>, BAR0+0x10, 4, value=0x2a) = 4 <0.000003>",
                "1.500000000 11 pread64(7<dev-A>, BAR0+0x10, 4, value=0x2a) = 4 <0.000003>",
                "1.500000000 10 pread64(7<dev\\x1b[2J\\nB>, BAR0+0x10, 4, value=0x2a) = 4 <0.000003>",
                "1.500000000 11 pread64(7<dev\\x1b[2J\\nB>, BAR0+0x10, 4, value=0x2a) = 4 <0.000003>",
                "",
            ])
        let json = try Self.dump(path, .json)
        let head = "{\"kind\":\"region_access\",\"timeNs\":1500000000,\"endTimeNs\":1500002500,\"pid\":10,\"tid\":10,\"result\":4,"
        #expect(json.count == 5)
        #expect(json[0] == head + "\"operation\":\"read\",\"fd\":7,\"device\":\"dev-A\",\"region\":0,\"offset\":16,\"length\":4,\"value\":42}")
        #expect(json[2] == head + "\"operation\":\"read\",\"fd\":7,\"device\":\"dev\\u001b[2J\\nB\",\"region\":0,\"offset\":16,\"length\":4,\"value\":42}")
    }

    @Test("lines from views are the owned events' lines, for every kind", arguments: [3, 1234] as [UInt64])
    func viewsMatchOwnedEvents(seed: UInt64) throws {
        var gen = RandomEvents(seed: seed)
        let events = gen.events(3000)
        let path = TraceFiles.temporaryPath("viewtext")
        defer { unlink(path) }
        // Small chunks: many string tables, each replacing the last.
        _ = try TraceFiles.write(events, to: path, chunkBytes: 16 << 10)
        let text = try Self.dump(path, .text)
        let json = try Self.dump(path, .json)
        #expect(text.count == events.count + 1 && json.count == events.count + 1)
        for (i, e) in events.enumerated() where i < text.count && i < json.count {
            #expect(text[i] == EventText.line(e), "text line \(i)")
            #expect(json[i] == EventJSON.line(e), "json line \(i)")
        }
    }
}
