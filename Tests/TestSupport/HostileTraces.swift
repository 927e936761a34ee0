public import TraceFormat

/// Crafted trace files that pass every integrity check (CRCs, sizes) yet lie in their contents: what the
/// hostile-input tests and the fuzz driver (`Benchmarks/HostileInputs`) feed to every reader.
public enum HostileTraces {
    /// A chunk body built field by field, as docs/FORMAT.md lays it out.
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

    /// Writes a file with a valid header and the given raw chunk bodies (each with its declared event count).
    public static func write(_ chunks: [(body: [UInt8], events: UInt32)], to path: String, close: Bool = true) throws {
        let w = try TraceWriter(path: path, header: TraceHeader.forThisHost(source: "hostile", command: [], pids: [1]))
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
