/// What the text and JSON renderings read of an event: its header, its kind, and its payload's fields numbered and
/// stored as a chunk's columns hold them (`ColumnSchema`: the payload's fields in order; signed values zigzag-encoded,
/// enums as raw values). One formatter per rendering reads any source: a view read in place from a chunk
/// (`EventView`, its strings escaped once per chunk) or an owned event (`OwnedEventFields`).
protocol EventFieldSource {
    var header: EventHeader { get }
    var kind: EventKind { get }
    /// Field `i` of the payload as stored.
    func field(_ i: Int) -> UInt64
    /// Appends string field `i`, escaped as `strings` escapes.
    func writeString(_ i: Int, _ strings: inout EscapedStrings, into b: inout ByteCursor)
    /// True when string field `i` is empty.
    func stringIsEmpty(_ i: Int, _ strings: inout EscapedStrings) -> Bool
    /// A `.vfioIoctl` event's argument bytes.
    func argumentBytes() -> [UInt8]
    /// A `.regionInfo` event's sparse-mmap areas; nil without the capability.
    func sparseAreaList() -> [RegionInfo.Area]?
    /// An `.irqBinding` event's eventfds.
    func eventfdList() -> [Int32]
    /// A `.marker` event's fields.
    func markerFieldList() -> [Marker.Field]
}

extension EventFieldSource {
    @inline(__always) func int32(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: ColumnSchema.unzigzag(field(i))) }
    @inline(__always) func uint32(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: field(i)) }
    /// An enum field (the decoder checked a view's; an owned event's is its own).
    @inline(__always) func choice<T: RawRepresentable>(_ i: Int, _ fallback: T) -> T where T.RawValue == UInt8 {
        T(rawValue: UInt8(truncatingIfNeeded: field(i))) ?? fallback
    }
}

/// An owned event read as the formatters read a view: its payload's numbers and strings by field, as a chunk's
/// columns would hold them (`EventPayload.layOut`, which the encoder writes from too), its lists taken from the payload.
struct OwnedEventFields: EventFieldSource {
    let event: TraceEvent
    private var values = InlineArray<12, UInt64>(repeating: 0)
    private var strings = InlineArray<12, String>(repeating: "")

    init(_ e: TraceEvent) {
        event = e
        /// The numbers and strings by field; the lists are read from the payload.
        struct Fields: PayloadLayoutVisitor {
            var values = InlineArray<12, UInt64>(repeating: 0)
            var strings = InlineArray<12, String>(repeating: "")
            mutating func number(_ i: Int, _ v: UInt64) { values[i] = v }
            mutating func string(_ i: Int, _ s: String) { strings[i] = s }
            mutating func item(_ j: Int, _ v: UInt64) {}
            mutating func itemString(_ j: Int, _ s: String) {}
        }
        var f = Fields()
        e.payload.layOut(into: &f)
        values = f.values
        strings = f.strings
    }

    var header: EventHeader { event.header }
    var kind: EventKind { event.kind }
    func field(_ i: Int) -> UInt64 { i >= 0 && i < 12 ? values[i] : 0 }

    /// String field `i` of the payload ("" for a field that is not one).
    private func string(_ i: Int) -> String { i >= 0 && i < 12 ? strings[i] : "" }

    func writeString(_ i: Int, _ strings: inout EscapedStrings, into b: inout ByteCursor) { strings.escape(string(i), into: &b) }
    func stringIsEmpty(_ i: Int, _ strings: inout EscapedStrings) -> Bool { string(i).isEmpty }

    func argumentBytes() -> [UInt8] {
        if case .vfioIoctl(let p) = event.payload { return p.argument }
        return []
    }
    func sparseAreaList() -> [RegionInfo.Area]? {
        if case .regionInfo(let p) = event.payload { return p.sparseAreas }
        return nil
    }
    func eventfdList() -> [Int32] {
        if case .irqBinding(let p) = event.payload { return p.eventfds }
        return []
    }
    func markerFieldList() -> [Marker.Field] {
        if case .marker(let p) = event.payload { return p.fields }
        return []
    }
}
