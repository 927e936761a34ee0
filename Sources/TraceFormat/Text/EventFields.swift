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

/// An owned event read as the formatters read a view: its payload's numbers laid out as a chunk's columns would
/// hold them (see `ChunkEncoder`), its strings and lists taken from the payload.
struct OwnedEventFields: EventFieldSource {
    let event: TraceEvent
    private var values = InlineArray<12, UInt64>(repeating: 0)

    init(_ e: TraceEvent) {
        event = e
        func i32(_ v: Int32) -> UInt64 { ColumnSchema.zigzag(Int64(v)) }
        var v = InlineArray<12, UInt64>(repeating: 0)
        // Strings are read from the payload: their fields stay 0.
        switch e.payload {
        case .vfioIoctl(let p):
            v[0] = i32(p.fd); v[1] = UInt64(p.target.rawValue); v[3] = UInt64(p.request); v[4] = UInt64(p.argument.count)
        case .ioctl(let p):
            v[0] = i32(p.fd); v[1] = UInt64(p.target.rawValue); v[2] = UInt64(p.request); v[3] = p.argument
        case .deviceOpen(let p):
            v[0] = i32(p.fd); v[1] = i32(p.groupFd)
        case .regionInfo(let p):
            v[0] = i32(p.fd); v[2] = UInt64(p.index); v[3] = UInt64(p.flags); v[4] = p.size; v[5] = p.offset
            v[6] = p.regionType == nil ? 0 : 1; v[7] = UInt64(p.regionType?.type ?? 0); v[8] = UInt64(p.regionType?.subtype ?? 0)
        case .irqBinding(let p):
            v[0] = i32(p.fd); v[2] = UInt64(p.index); v[3] = UInt64(p.start); v[4] = UInt64(p.count); v[5] = UInt64(p.flags)
        case .deviceState(let p):
            v[0] = i32(p.fd); v[2] = UInt64(p.migrationProtocol.rawValue); v[3] = UInt64(p.operation.rawValue)
            v[4] = UInt64(p.requested); v[5] = UInt64(p.resulting); v[6] = i32(p.dataFd)
        case .mapping(let p):
            v[0] = UInt64(p.operation.rawValue); v[1] = i32(p.fd); v[3] = i32(p.region); v[4] = p.regionOffset
            v[5] = p.address; v[6] = p.length; v[7] = p.newAddress; v[8] = p.newLength; v[9] = UInt64(p.prot)
            v[10] = UInt64(p.flags); v[11] = p.fileOffset
        case .memslot(let p):
            v[0] = i32(p.vmFd); v[1] = UInt64(p.slot); v[2] = UInt64(p.flags); v[3] = p.guestPhys; v[4] = p.size; v[5] = p.userAddress
        case .eventfd(let p):
            v[0] = UInt64(p.operation.rawValue); v[1] = i32(p.fd); v[2] = p.value; v[3] = UInt64(p.flags)
        case .irqfd(let p):
            v[0] = i32(p.vmFd); v[1] = i32(p.fd); v[2] = UInt64(p.gsi); v[3] = UInt64(p.flags); v[4] = i32(p.resampleFd)
        case .regionAccess(let p):
            v[0] = UInt64(p.operation.rawValue); v[1] = i32(p.fd); v[3] = i32(p.region); v[4] = p.offset; v[5] = p.length; v[6] = p.value
        case .fd(let p):
            v[0] = UInt64(p.operation.rawValue); v[1] = i32(p.fd); v[2] = i32(p.sourceFd); v[3] = UInt64(p.kind.rawValue)
        case .process(let p):
            v[0] = UInt64(p.operation.rawValue); v[1] = i32(p.target); v[2] = i32(p.status)
        case .marker(let p):
            v[3] = UInt64(p.fields.count)
        case .lost(let p):
            v[0] = p.count; v[1] = p.fromNs; v[2] = p.toNs
        }
        values = v
    }

    var header: EventHeader { event.header }
    var kind: EventKind { event.kind }
    func field(_ i: Int) -> UInt64 { i >= 0 && i < 12 ? values[i] : 0 }

    /// String field `i` of the payload ("" for a field that is not one).
    private func string(_ i: Int) -> String {
        switch event.payload {
        case .vfioIoctl(let p): i == 2 ? p.device : ""
        case .deviceOpen(let p): i == 2 ? p.device : ""
        case .regionInfo(let p): i == 1 ? p.device : ""
        case .irqBinding(let p): i == 1 ? p.device : ""
        case .deviceState(let p): i == 1 ? p.device : ""
        case .mapping(let p): i == 2 ? p.device : ""
        case .regionAccess(let p): i == 2 ? p.device : ""
        case .fd(let p): i == 4 ? p.path : ""
        case .process(let p): i == 3 ? p.command : ""
        case .marker(let p): i == 0 ? p.source : i == 1 ? p.name : i == 2 ? p.device : ""
        case .ioctl, .memslot, .eventfd, .irqfd, .lost: ""
        }
    }

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
