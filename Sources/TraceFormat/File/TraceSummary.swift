/// Counts and sizes of a whole trace, gathered in one streaming pass (`stats`, `verify`).
public struct TraceSummary: Sendable {
    public var header: TraceHeader
    public var fileBytes: UInt64 = 0
    public var events: UInt64 = 0
    public var chunks = 0
    public var rawBytes: UInt64 = 0
    public var compressedBytes: UInt64 = 0
    public var firstNs: UInt64?
    public var lastNs: UInt64?
    /// Events per kind, indexed by `EventKind.rawValue`.
    public var perKind = [UInt64](repeating: 0, count: 256)
    /// Events the recorder reported as lost (sum of `LostEvents.count`).
    public var lostEvents: UInt64 = 0
    public var hasFooter = false
    public var damage: [TraceError] = []

    public var bytesPerEvent: Double { events == 0 ? 0 : Double(fileBytes) / Double(events) }
    public var compressionRatio: Double { compressedBytes == 0 ? 0 : Double(rawBytes) / Double(compressedBytes) }
    public var spanNs: UInt64 { (firstNs != nil && lastNs != nil) ? lastNs! - firstNs! : 0 }
    public var isIntact: Bool { hasFooter && damage.isEmpty }

    /// Reads `path` to the end, tolerating damage (recorded in `damage`).
    public static func scan(path: String, visit: ((TraceEvent) -> Void)? = nil) throws(TraceError) -> TraceSummary {
        let reader = try TraceReader(path: path, prefetch: true)
        var s = TraceSummary(header: reader.header)
        s.fileBytes = reader.fileSize
        var perKind = [UInt64](repeating: 0, count: 256)
        var first = UInt64.max
        var last: UInt64 = 0
        var lost: UInt64 = 0
        try perKind.withUnsafeMutableBufferPointer { (counts: inout UnsafeMutableBufferPointer<UInt64>) throws(TraceError) in
            while try reader.nextChunk(batches: { batch in
                for e in batch {
                    counts[Int(e.kind.rawValue)] &+= 1
                    // Both ends: a crafted event may complete before it starts.
                    first = min(first, e.time, e.endTime)
                    last = max(last, e.time, e.endTime)
                    if e.kind == .lost, case .lost(let l) = e.payload { lost &+= l.count }
                    visit?(e.event)
                }
            }) != nil {}
        }
        s.perKind = perKind
        s.lostEvents = lost
        if reader.eventCount > 0 {
            s.firstNs = first
            s.lastNs = last
        }
        s.events = reader.eventCount
        s.chunks = reader.chunkCount
        s.rawBytes = reader.rawBytes
        s.compressedBytes = reader.compressedBytes
        s.hasFooter = reader.footer != nil
        s.damage = reader.damage
        return s
    }
}
