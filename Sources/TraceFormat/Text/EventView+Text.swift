extension EventView: EventFieldSource {
    /// The table index string field `i` holds (checked by the decoder).
    @inline(__always) private func tableIndex(_ i: Int) -> Int { Int(truncatingIfNeeded: field(i)) }

    @inline(__always)
    func writeString(_ i: Int, _ strings: inout EscapedStrings, into b: inout ByteCursor) { strings.write(tableIndex(i), into: &b) }
    @inline(__always)
    func stringIsEmpty(_ i: Int, _ strings: inout EscapedStrings) -> Bool { strings.isEmpty(tableIndex(i)) }
    func argumentBytes() -> [UInt8] { bytes() }
    func sparseAreaList() -> [RegionInfo.Area]? { listCount > 0 ? areas() : nil }
    func eventfdList() -> [Int32] { eventfds() }
    func markerFieldList() -> [Marker.Field] { markerFields() }
}

/// Writes events read in place (`TraceReader.nextChunk(batches:)`) as `dump` prints them, strace-like text or JSON
/// Lines, without building a `TraceEvent`: the same bytes as `EventText.write(_:into:)` and `EventJSON.bytes(_:)`
/// for `view.event`, with each of a chunk's strings escaped once for all the events that name it.
public struct EventViewFormatter {
    /// What a line is.
    public enum Format: Sendable {
        /// `EventText`'s strace-like line.
        case text
        /// `EventJSON`'s object.
        case json
    }

    public let format: Format
    var cache: RenderCache
    private let scratch = LineScratch()

    public init(_ format: Format) {
        self.format = format
        cache = RenderCache(format == .text ? .terminal : .json)
    }

    /// Appends the line for `v` (without a newline) to `b`.
    public mutating func write(_ v: EventView, into b: inout TextBuffer) {
        cache.strings.use(v.chunk.table)
        line(v, into: &b)
    }

    /// Appends the line for each view of `batch` (one chunk's, as `TraceReader.nextChunk(batches:)` hands them over)
    /// whose kind `keep` keeps, each followed by a newline; whenever `b` holds `flushAt` bytes or more, hands it to
    /// `flush` (which empties it). The chunk's string table is looked at once per batch, not once per line.
    public mutating func writeLines(
        _ batch: UnsafeBufferPointer<EventView>, keeping keep: (EventKind) -> Bool, into b: inout TextBuffer, flushAt: Int,
        flush: (inout TextBuffer) -> Void
    ) {
        guard let first = batch.first else { return }
        cache.strings.use(first.chunk.table)
        for v in batch where keep(v.kind) {
            line(v, into: &b)
            b.byte(0x0A)
            if b.count >= flushAt { flush(&b) }
        }
    }

    /// The line for `v`, its chunk's table in use.
    @inline(__always)
    private mutating func line(_ v: EventView, into b: inout TextBuffer) {
        let text = format == .text
        scratch.write(into: &b) { c in
            if text { EventText.write(v, &cache, into: &c) } else { EventJSON.write(v, &cache, into: &c) }
        }
    }
}
