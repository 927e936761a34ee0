import TraceAnalysis
public import TraceFormat
import TraceReports

#if canImport(Glibc)
    import Glibc
#endif

/// Seeded hostile inputs for every surface that reads from outside, and the whole pipeline run on each: what
/// `swift test` runs a few hundred of and `Benchmarks/hostile-inputs.sh` a hundred thousand.
///
/// A case is a file in `directory`: a trace (crafted chunk bodies with valid CRCs, or a real trace cut or
/// bit-flipped) or a log for one of the importers. `run` reads it the way every subcommand does; it must
/// never trap, and what it allocates is bounded by docs/FORMAT.md and docs/IMPORT.md.
public enum HostileCases {
    public enum Surface: String, CaseIterable, Sendable {
        case craftedChunk, craftedColumns, damagedTrace, strace, qemuTrace, ftrace, jsonl
    }

    /// Writes case `index` of `seed` into `directory`; returns its path and surface.
    public static func make(index: UInt64, seed: UInt64, directory: String) throws -> (path: String, surface: Surface) {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ index)
        let surface = Surface.allCases[Int(rng.next() % UInt64(Surface.allCases.count))]
        let path = directory + "/case-\(index)"
        switch surface {
        case .craftedChunk:
            var chunks: [(body: [UInt8], events: UInt32)] = []
            for _ in 0..<(1 + rng.next() % 3) { chunks.append(craftedBody(&rng)) }
            try HostileTraces.write(chunks, to: path, close: rng.next() % 4 != 0)
        case .craftedColumns:
            var chunks: [(body: [UInt8], events: UInt32)] = []
            for _ in 0..<(1 + rng.next() % 3) { chunks.append(craftedColumns(&rng)) }
            try HostileTraces.write(chunks, to: path, version: 2, close: rng.next() % 4 != 0)
        case .damagedTrace:
            try damagedTrace(&rng, path: path)
        case .strace, .qemuTrace, .ftrace, .jsonl:
            store(hostileLog(surface, &rng), path)
        }
        return (path, surface)
    }

    /// Reads the case the way the subcommands do: every event rendered, the analysis and every report
    /// format; an importer's output read and analyzed in turn. Returns a one-line outcome.
    @discardableResult
    public static func run(path: String, surface: Surface) -> String {
        var trace = path
        switch surface {
        case .craftedChunk, .craftedColumns, .damagedTrace: break
        case .strace, .qemuTrace, .ftrace, .jsonl:
            let format: LogFormat = surface == .strace ? .strace : surface == .qemuTrace ? .qemuTrace : surface == .ftrace ? .ftrace : .jsonl
            trace = path + ".vftrace"
            let r = format.importLog(.file(path), output: trace)
            defer { unlink(trace) }
            guard r.failure == nil else { return "import stopped: \(r.skippedLines) skipped" }
            return "imported \(r.eventsWritten), skipped \(r.skippedLines); " + readAndAnalyze(trace)
        }
        return readAndAnalyze(trace)
    }

    static func readAndAnalyze(_ path: String) -> String {
        var rendered = 0
        do {
            // Every event rendered twice, as `dump` writes it from its view and from the owned event, compared batch
            // by batch (memory bounded by a batch's lines): the same bytes.
            var owned = TextBuffer(capacity: 1 << 16)
            var fromViews = TextBuffer(capacity: 1 << 16)
            var text = EventViewFormatter(.text)
            var json = EventViewFormatter(.json)
            let reader = try TraceReader(path: path)
            while try reader.nextChunk(batches: { batch in
                for v in batch {
                    text.write(v, into: &fromViews)
                    fromViews.byte(0x0A)
                    json.write(v, into: &fromViews)
                    fromViews.byte(0x0A)
                    let e = v.event
                    EventText.write(e, into: &owned)
                    owned.byte(0x0A)
                    owned.bytes.append(contentsOf: EventJSON.bytes(e))
                    owned.byte(0x0A)
                }
                if fromViews.bytes != owned.bytes { fatalError("dump from views differs from dump of the events: \(path)") }
                rendered &+= owned.count
                owned.removeAll()
                fromViews.removeAll()
            }) != nil {}
            // The analyzer fed batches of views (its windows of quiet events passed over) and fed the owned events one
            // by one: the same result.
            guard try sameAnalysisBothWays(path) else { fatalError("analysis of views differs from analysis of the events: \(path)") }
            _ = TraceSummary.self
            let bands = TimelineBands()
            let result = try TraceAnalyzer.analyze(paths: [path], bands: bands)
            let states = (try? PerfettoReport.stateChanges(from: path)) ?? []
            rendered &+= AnalysisText.render(result).utf8.count
            rendered &+= MarkdownReport.render(result).utf8.count
            rendered &+= JUnitReport.render(result).utf8.count
            rendered &+= OpenMetricsReport.render(result).utf8.count
            rendered &+= PerfettoReport.render(result, states: states).utf8.count
            rendered &+= PerfettoTraceReport.render(result, states: states).bytes.count
            rendered &+= HTMLReport.render(result, bands: bands).utf8.count
            try AnalysisJSON.write(result) { rendered &+= $0.utf8.count }
            return "\(result.verdict), \(reader.damage.count) damage, \(rendered) bytes rendered"
        } catch {
            return "refused: \(error)"
        }
    }

    /// Analyzes `path` from batches of views and from owned events, one by one; true when both give the same result.
    public static func sameAnalysisBothWays(_ path: String) throws -> Bool {
        let viaViews = try TraceAnalyzer()
        let r1 = try TraceReader(path: path)
        while try r1.nextChunk(batches: { viaViews.consume($0) }) != nil {}
        viaViews.endFile(cut: !r1.isIntact)
        let viaEvents = try TraceAnalyzer()
        let r2 = try TraceReader(path: path)
        while try r2.nextChunk(visit: { viaEvents.consume($0) }) != nil {}
        viaEvents.endFile(cut: !r2.isIntact)
        return viaViews.finish(files: [path]) == viaEvents.finish(files: [path])
    }

    // MARK: - Generators

    /// Values that break arithmetic: extremes, sign boundaries, and small ones.
    static func number(_ rng: inout SplitMix64) -> UInt64 {
        let specials: [UInt64] = [0, 1, 2, 0x7F, 0x80, 0xFFFF, 0xFFFF_FFFF, 1 << 32, 1 << 40, 1 << 63, (1 << 63) - 1, .max, .max - 1, .max - 4095]
        switch rng.next() % 4 {
        case 0: return specials[Int(rng.next() % UInt64(specials.count))]
        case 1: return rng.next() % 64
        case 2: return rng.next() % 0x10_0000
        default: return rng.next()
        }
    }

    static let strings = [
        "0000:00:05.0", "", "dev\u{1B}]0;x\u{07}", "\r\nverdict: PASS", "\u{202E}\u{FFFE}", "a|b*`c`<d>&", "index", "region", "0", "trap.on",
        "irq.signal",
    ]

    /// One chunk body of random events with hostile values (valid framing most of the time).
    static func craftedBody(_ rng: inout SplitMix64) -> (body: [UInt8], events: UInt32) {
        var b = HostileTraces.Body()
        let nstrings = Int(rng.next() % UInt64(strings.count + 1))
        b.varint(UInt64(nstrings))
        for i in 0..<nstrings { b.string(strings[i]) }
        let count = Int(rng.next() % 40)
        for _ in 0..<count {
            let kind = UInt8(1 + rng.next() % 15)
            b.u8(kind)
            let flags = UInt8(rng.next() % 16)
            b.u8(flags)
            b.zigzag(Int64(bitPattern: number(&rng)))
            for bit in 0..<4 where flags & (1 << bit) != 0 { b.zigzag(Int64(bitPattern: number(&rng))) }
            // A payload of random fields: varints, small enum bytes and string indices, sometimes a list count.
            for _ in 0..<(2 + rng.next() % 12) {
                switch rng.next() % 5 {
                case 0: b.u8(UInt8(rng.next() % 4))
                case 1: b.varint(nstrings > 0 ? rng.next() % UInt64(nstrings) : 0)
                case 2: b.zigzag(Int64(bitPattern: number(&rng)))
                case 3: b.varint(rng.next() % 6)
                default: b.varint(number(&rng))
                }
            }
        }
        // Usually the honest event count; sometimes a lie.
        let declared = rng.next() % 5 == 0 ? UInt32(truncatingIfNeeded: number(&rng)) : UInt32(count)
        if rng.next() % 10 == 0, !b.bytes.isEmpty { b.bytes.removeLast(Int(rng.next() % UInt64(b.bytes.count))) }
        return (b.bytes, declared)
    }

    /// One version 2 chunk body of random events with hostile values: mostly well-formed columns, sometimes a column
    /// too wide, a kind or flag out of range, a list that does not add up, a count that lies, or a cut.
    static func craftedColumns(_ rng: inout SplitMix64) -> (body: [UInt8], events: UInt32) {
        var c = HostileTraces.ColumnBody()
        c.strings = Array(strings[0..<Int(rng.next() % UInt64(strings.count + 1))])
        c.baseTime = number(&rng)
        let count = Int(rng.next() % 40)
        let tableSize = UInt64(c.strings.count)
        func value(_ rng: inout SplitMix64) -> UInt64 {
            switch rng.next() % 5 {
            case 0: return rng.next() % 4
            case 1: return rng.next() % (tableSize + 1)
            case 2: return number(&rng) & 0xFFFF_FFFF
            case 3: return rng.next() % 6
            default: return rng.next() % 64 == 0 ? number(&rng) : rng.next() % 256
            }
        }
        for _ in 0..<count {
            let kind = rng.next() % 32 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(1 + rng.next() % 15)
            let flags = UInt8(truncatingIfNeeded: rng.next() % (rng.next() % 16 == 0 ? 256 : 16))
            c.kinds.append(kind)
            c.flags.append(flags)
            c.header[0].append(number(&rng))
            for bit in 0..<4 where flags & (1 << bit) != 0 { c.header[bit + 1].append(number(&rng) & (bit == 1 ? 0xFFFF_FFFF : .max)) }
            let k = Int(kind)
            guard k >= 1 && k <= 15 else { continue }
            let layout = HostileTraces.ColumnBody.layout[k]
            for i in 0..<layout.fields {
                if i == HostileTraces.ColumnBody.countField[k] {
                    // A list's length and its items; now and then the two disagree.
                    let n = rng.next() % 5
                    c.columns[k][i].append(n)
                    let items = Int(k == 4 && n > 0 ? n - 1 : n) + (rng.next() % 16 == 0 ? 1 : 0)
                    for j in 0..<layout.items { for _ in 0..<items { c.columns[k][layout.fields + j].append(value(&rng)) } }
                } else {
                    c.columns[k][i].append(value(&rng))
                }
            }
        }
        if rng.next() % 8 == 0 {
            // A column written wider or narrower than its values.
            let key = rng.next() % 2 == 0 ? "h\(rng.next() % 5)" : "\(1 + rng.next() % 15).\(rng.next() % 12)"
            c.widths[key] = UInt8(rng.next() % 10)
        }
        var body = c.bytes
        let declared = rng.next() % 5 == 0 ? UInt32(truncatingIfNeeded: number(&rng)) : UInt32(count)
        if rng.next() % 10 == 0, !body.isEmpty { body.removeLast(Int(rng.next() % UInt64(body.count))) }
        return (body, declared)
    }

    /// A real trace (random events through the writer), then cut, bit-flipped or overwritten.
    static func damagedTrace(_ rng: inout SplitMix64, path: String) throws {
        let w = try TraceWriter(path: path, header: TraceHeader.forThisHost(source: "fuzz", command: ["vmm"], pids: [1]))
        var time: UInt64 = 1_000
        for _ in 0..<(1 + rng.next() % 200) {
            time &+= rng.next() % 100_000
            let device = strings[Int(rng.next() % 2)]
            let payload: EventPayload
            switch rng.next() % 6 {
            case 0:
                payload = .deviceState(
                    DeviceStateChange(fd: 5, device: device, migrationProtocol: .v2, requested: UInt32(rng.next() % 8), resulting: 0))
            case 1: payload = .mapping(MappingChange(operation: .mmap, fd: 5, device: device, region: 0, address: 0, length: number(&rng)))
            case 2: payload = .eventfd(EventfdOp(operation: rng.next() % 2 == 0 ? .read : .write, fd: 8, value: 1))
            case 3: payload = .irqBinding(IrqBinding(fd: 5, device: device, index: 5, start: 0, count: 1, flags: 0x24, eventfds: [8]))
            case 4: payload = .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: number(&rng), size: number(&rng), userAddress: number(&rng)))
            default:
                payload = .regionInfo(
                    RegionInfo(
                        fd: 5, device: device, index: 0, flags: 0xF, size: number(&rng), offset: 0,
                        sparseAreas: [.init(offset: number(&rng), size: number(&rng))]))
            }
            try w.append(
                TraceEvent(
                    time: time, endTime: rng.next() % 8 == 0 ? time &- 100 : time &+ 50, pid: 1, tid: 1,
                    result: Int64(bitPattern: rng.next() % 3 == 0 ? number(&rng) : 0), payload: payload))
        }
        try w.close()
        var bytes = readAll(path)
        guard !bytes.isEmpty else { return }
        switch rng.next() % 3 {
        case 0: bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
        case 1:
            for _ in 0..<(1 + rng.next() % 8) {
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(1 << (rng.next() % 8))
            }
        default:
            let i = Int(rng.next() % UInt64(bytes.count))
            for j in i..<min(bytes.count, i + 64) { bytes[j] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        store(bytes, path)
    }

    static let seeds: [Surface: [String]] = [
        .strace: [
            #"900 1700000000.000100 eventfd2(0, EFD_CLOEXEC) = 6 <0.000005>"#,
            #"901 1700000000.000300 write(6, "\1\0\0\0\0\0\0\0", 8) = 8 <0.000004>"#,
            #"900 1700000000.000400 ioctl(7</dev/vfio/devices/vfio0>, VFIO_DEVICE_GET_REGION_INFO, 0x7ffd <unfinished ...>"#,
            #"900 1700000000.000500 <... ioctl resumed>) = 0 <0.000100>"#,
            #"900 1700000000.000600 mmap(NULL, 1048576, PROT_READ|PROT_WRITE, MAP_SHARED, 7, 0) = 0x7f0000000000 <0.000010>"#,
        ],
        .qemuTrace: [
            "100@10.000001:vfio_intx_interrupt  (0000:00:05.0) Pin A",
            "100@10.000003:vfio_region_mmap Region 0000:00:05.0 BAR 0 mmaps[0] [0x0 - 0xfffff]",
            "100@10.000004:vfio_region_mmaps_set_enabled Region 0000:00:05.0 BAR 0 mmaps enabled: 0",
        ],
        .ftrace: [
            "     vfio-client-140     [000] d.h..    17.727642: irq_handler_entry: irq=23 name=vfio-intx(0000:00:03.0)",
            "# tracer: nop",
        ],
        .jsonl: [
            #"{"t": 1100, "kind": "trap.on", "device": "dev", "region": 0, "pid": 7}"#,
            #"{"t": 1200, "kind": "marker", "name": "note", "pid": 7}"#,
            #"{"t": 1300, "kind": "irq.signal", "device": "dev", "index": 5, "pid": 7}"#,
        ],
    ]

    /// A log of mutated real lines: numbers replaced by extremes, bytes flipped, controls inserted, cuts.
    static func hostileLog(_ surface: Surface, _ rng: inout SplitMix64) -> [UInt8] {
        let lines = seeds[surface] ?? []
        let numbers = ["99999999999999999999", "-1", "1e300", "inf", "nan", "-0", "18446744073709551615", "0x", "", "9223372036854775808"]
        var out: [UInt8] = []
        for _ in 0..<(1 + rng.next() % 30) {
            var line = Array(lines[Int(rng.next() % UInt64(lines.count))].utf8)
            switch rng.next() % 5 {
            case 0:
                // Replace the first run of digits after a random point with a hostile number.
                let start = Int(rng.next() % UInt64(line.count))
                if let i = line[start...].firstIndex(where: { $0 >= 0x30 && $0 <= 0x39 }) {
                    var j = i
                    while j < line.count && ((line[j] >= 0x30 && line[j] <= 0x39) || line[j] == 0x2E) { j += 1 }
                    line.replaceSubrange(i..<j, with: Array(numbers[Int(rng.next() % UInt64(numbers.count))].utf8))
                }
            case 1:
                for _ in 0..<(1 + rng.next() % 4) { line[Int(rng.next() % UInt64(line.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2:
                line.insert(contentsOf: [0x1B, 0x5D, 0x30, 0x3B, 0x07, 0x0D, 0x00], at: Int(rng.next() % UInt64(line.count)))
            case 3:
                line.removeLast(Int(rng.next() % UInt64(line.count)))
            default:
                break
            }
            out += line
            out.append(0x0A)
        }
        return out
    }

    static func readAll(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    static func store(_ bytes: [UInt8], _ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, bytes.count) }
    }
}
