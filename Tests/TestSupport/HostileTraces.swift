public import TraceFormat

/// Crafted trace files that pass every integrity check (CRCs, sizes) yet lie in their contents: what the
/// hostile-input tests and the fuzz driver (`Benchmarks/HostileInputs`) feed to every reader.
public enum HostileTraces {
    /// A version 1 chunk body built field by field, as docs/FORMAT.md lays it out (written by `write` in a
    /// version 1 file: readers still read them, with the same limits).
    public struct Body {
        public var bytes: [UInt8] = []
        public init() {}

        public mutating func u8(_ v: UInt8) { bytes.append(v) }
        public mutating func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        public mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }
        public mutating func string(_ s: String) {
            varint(UInt64(s.utf8.count))
            bytes.append(contentsOf: s.utf8)
        }
        /// Event prefix: kind, flags 0 (no duration, pid, tid or result), Δtime.
        public mutating func event(kind: UInt8, delta: UInt64 = 1) {
            u8(kind)
            u8(0)
            zigzag(Int64(bitPattern: delta))
        }
    }

    /// Writes a file of format `version` (1: the bodies above; 2: `ColumnBody`) with a valid header and the given
    /// raw chunk bodies (each with its declared event count).
    public static func write(_ chunks: [(body: [UInt8], events: UInt32)], to path: String, version: UInt16 = 1, close: Bool = true) throws {
        var header = TraceHeader.forThisHost(source: "hostile", command: [], pids: [1])
        header.formatVersion = version
        let w = try TraceWriter(path: path, header: header)
        for c in chunks { try w.appendRawChunk(c.body, eventCount: c.events) }
        if close { try w.close() }
    }

    /// A string table declaring `n` empty strings, then one lost-events record.
    public static func stringTableBomb(_ n: Int) -> (body: [UInt8], events: UInt32) {
        var b = Body()
        b.varint(UInt64(n))
        b.bytes.append(contentsOf: repeatElement(0, count: n))
        b.event(kind: 15)
        b.varint(1); b.varint(0); b.varint(0)
        return (b.bytes, 1)
    }

    /// One marker holding `n` fields (every key and value the one empty string).
    public static func markerFieldBomb(_ n: Int) -> (body: [UInt8], events: UInt32) {
        var b = Body()
        b.varint(1)
        b.string("")
        b.event(kind: 14)
        b.varint(0); b.varint(0); b.varint(0)
        b.varint(UInt64(n))
        b.bytes.append(contentsOf: repeatElement(0, count: 2 * n))
        return (b.bytes, 1)
    }

    /// One region_info with `n` sparse areas of offset 0, size 0.
    public static func sparseAreaBomb(_ n: Int) -> (body: [UInt8], events: UInt32) {
        var b = Body()
        b.varint(1)
        b.string("0000:00:01.0")
        b.event(kind: 4)
        b.zigzag(5); b.varint(0); b.varint(0); b.varint(0x7); b.varint(4096); b.varint(0); b.u8(0)
        b.varint(UInt64(n) + 1)
        b.bytes.append(contentsOf: repeatElement(0, count: 2 * n))
        return (b.bytes, 1)
    }

    /// One irq_binding with `n` eventfds (all fd 0).
    public static func irqFdBomb(_ n: Int) -> (body: [UInt8], events: UInt32) {
        var b = Body()
        b.varint(1)
        b.string("0000:00:01.0")
        b.event(kind: 5)
        b.zigzag(5); b.varint(0); b.varint(2); b.varint(0); b.varint(UInt64(n)); b.varint(0x24)
        b.varint(UInt64(n))
        b.bytes.append(contentsOf: repeatElement(0, count: n))
        return (b.bytes, 1)
    }

    /// `n` lost-events records (one finding each, before findings were capped).
    public static func lostRecords(_ n: Int) -> (body: [UInt8], events: UInt32) {
        var b = Body()
        b.varint(0)
        for _ in 0..<n {
            b.event(kind: 15)
            b.varint(1); b.varint(0); b.varint(0)
        }
        return (b.bytes, UInt32(n))
    }
}

extension HostileTraces {
    /// A version 2 chunk body built column by column, as docs/FORMAT.md ("Chunk body, version 2") lays it out; each
    /// column at the narrowest width holding its values unless `widths` says otherwise.
    public struct ColumnBody {
        /// Fields, then list-item columns, of kinds 1…15, as the format's table of payloads lists them.
        public static let layout: [(fields: Int, items: Int)] = [
            (0, 0), (5, 1), (4, 0), (3, 0), (10, 2), (7, 1), (7, 0), (12, 0), (6, 0), (4, 0), (5, 0), (7, 0), (5, 0), (4, 0), (4, 2), (3, 0),
        ]
        public var strings: [String] = []
        public var baseTime: UInt64 = 0
        public var kinds: [UInt8] = []
        public var flags: [UInt8] = []
        /// Δtime, duration, pid, tid, result: zigzag-encoded values.
        public var header: [[UInt64]] = Array(repeating: [], count: 5)
        /// By kind, then column (fields, then items): the stored values.
        public var columns: [[[UInt64]]] = layout.map { Array(repeating: [], count: $0.fields + $0.items) }
        /// Widths to write instead of the narrowest, by "h<i>" (header column) or "<kind>.<column>".
        public var widths: [String: UInt8] = [:]
        /// The field holding the list's length, of the kinds with a list (its items follow the fields).
        public static let countField: [Int: Int] = [1: 4, 4: 9, 5: 6, 14: 3]
        public init() {}

        public static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

        /// An event with no duration, pid, tid or result, Δtime 1, and the given payload columns' values.
        public mutating func event(kind: UInt8, _ fields: [UInt64], items: [[UInt64]] = []) {
            kinds.append(kind)
            flags.append(0)
            header[0].append(Self.zigzag(1))
            let k = Int(kind)
            guard k < Self.layout.count else { return }
            for (i, v) in fields.enumerated() { columns[k][i].append(v) }
            for (j, list) in items.enumerated() { columns[k][Self.layout[k].fields + j] += list }
        }

        private static func narrowest(_ values: [UInt64], least: UInt8) -> UInt8 {
            let top = values.max() ?? 0
            return values.isEmpty ? 0 : max(UInt8((64 - top.leadingZeroBitCount + 7) / 8), least)
        }

        private static func column(_ out: inout [UInt8], _ values: [UInt64], width: UInt8) {
            out.append(width)
            for v in values { for b in 0..<Int(width) { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(b)))) } }
        }

        public var bytes: [UInt8] {
            var b = Body()
            b.varint(UInt64(strings.count))
            for s in strings { b.string(s) }
            var out = b.bytes
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: baseTime >> (8 * UInt64(i)))) }
            Self.column(&out, kinds.map(UInt64.init), width: widths["kinds"] ?? 1)
            Self.column(&out, flags.map(UInt64.init), width: widths["flags"] ?? (flags.contains { $0 != 0 } ? 1 : 0))
            for (i, values) in header.enumerated() {
                Self.column(&out, values, width: widths["h\(i)"] ?? Self.narrowest(values, least: 0))
            }
            for k in 1..<Self.layout.count {
                for (i, values) in columns[k].enumerated() {
                    let least: UInt8 = i >= Self.layout[k].fields ? 1 : 0
                    Self.column(&out, values, width: widths["\(k).\(i)"] ?? Self.narrowest(values, least: least))
                }
            }
            return out
        }
    }
}
