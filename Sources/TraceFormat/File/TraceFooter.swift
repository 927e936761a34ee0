/// The optional index written on clean close: where each chunk is, its time range, and the closing clocks.
public struct TraceFooter: Sendable, Hashable {
    /// One chunk's location and time range.
    public struct Entry: Sendable, Hashable {
        public var offset: UInt64
        public var sequence: UInt64
        public var eventCount: UInt32
        public var firstTime: UInt64
        public var lastTime: UInt64
    }

    public var entries: [Entry]
    public var totalEvents: UInt64
    public var closeClock: ClockSample

    /// magic(4) + count(4) + entries(36 each) + events(8) + clock(16) + crc(4), then offset(8) + end magic(8).
    static let entrySize = 36

    func encode() -> [UInt8] {
        var w = ByteWriter()
        w.raw(TraceFormat.footerMagic)
        w.fixed32(UInt32(entries.count))
        for e in entries {
            w.fixed64(e.offset)
            w.fixed64(e.sequence)
            w.fixed32(e.eventCount)
            w.fixed64(e.firstTime)
            w.fixed64(e.lastTime)
        }
        w.fixed64(totalEvents)
        w.fixed64(closeClock.monotonicNs)
        w.fixed64(closeClock.realtimeNs)
        let crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
        w.fixed32(crc)
        return w.bytes
    }

    /// Bytes of a footer with `n` entries, excluding the 16-byte trailer.
    static func size(entries n: Int) -> Int { 4 + 4 + n * entrySize + 8 + 16 + 4 }

    static func decode(_ raw: UnsafeRawBufferPointer) -> Result<TraceFooter, CheckFailure> {
        var r = ByteReader(raw, position: 4)
        do {
            let n = Int(try r.fixed32())
            guard n <= (raw.count - 8) / entrySize, raw.count >= size(entries: n) else {
                return .failure(CheckFailure("footer entry count \(n) exceeds its size"))
            }
            var entries: [Entry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                entries.append(
                    Entry(
                        offset: try r.fixed64(), sequence: try r.fixed64(), eventCount: try r.fixed32(),
                        firstTime: try r.fixed64(), lastTime: try r.fixed64()))
            }
            let total = try r.fixed64()
            let clock = ClockSample(monotonicNs: try r.fixed64(), realtimeNs: try r.fixed64())
            let body = UnsafeRawBufferPointer(rebasing: raw[4..<r.position])
            let stored = try r.fixed32()
            guard CRC32C.checksum(body) == stored else { return .failure(CheckFailure("footer CRC mismatch")) }
            return .success(TraceFooter(entries: entries, totalEvents: total, closeClock: clock))
        } catch {
            return .failure(CheckFailure(error.message))
        }
    }
}
