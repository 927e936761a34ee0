/// What takes a payload laid out as a version 2 chunk's columns hold it (`EventPayload.layOut`).
protocol PayloadLayoutVisitor {
    /// Numeric field `i`: signed values zigzag-encoded, enums as raw values.
    mutating func number(_ i: Int, _ v: UInt64)
    /// String field `i`.
    mutating func string(_ i: Int, _ s: String)
    /// One item of the list, in item column `j` (numbers, or strings for a marker's fields).
    mutating func item(_ j: Int, _ v: UInt64)
    mutating func itemString(_ j: Int, _ s: String)
}

extension EventPayload {
    /// The payload laid out as a chunk's columns hold it (docs/FORMAT.md, "Chunk body, version 2"; `ColumnSchema`),
    /// each value handed to `visit` in field order, then its list's items. The one place that says which field is
    /// which: the encoder writes what it is handed, and the formatters read an owned event through it
    /// (`OwnedEventFields`) as they read a view from its columns.
    @inline(__always)
    func layOut<V: PayloadLayoutVisitor>(into visit: inout V) {
        func i32(_ i: Int, _ v: Int32) { visit.number(i, ColumnSchema.zigzag(Int64(v))) }
        func u64(_ i: Int, _ v: UInt64) { visit.number(i, v) }
        func u32(_ i: Int, _ v: UInt32) { visit.number(i, UInt64(v)) }
        func u8(_ i: Int, _ v: UInt8) { visit.number(i, UInt64(v)) }
        func s(_ i: Int, _ v: String) { visit.string(i, v) }
        switch self {
        case .vfioIoctl(let p):
            i32(0, p.fd); u8(1, p.target.rawValue); s(2, p.device); u32(3, p.request); u64(4, UInt64(p.argument.count))
            for x in p.argument { visit.item(0, UInt64(x)) }
        case .ioctl(let p):
            i32(0, p.fd); u8(1, p.target.rawValue); u32(2, p.request); u64(3, p.argument)
        case .deviceOpen(let p):
            i32(0, p.fd); i32(1, p.groupFd); s(2, p.device)
        case .regionInfo(let p):
            i32(0, p.fd); s(1, p.device); u32(2, p.index); u32(3, p.flags); u64(4, p.size); u64(5, p.offset)
            u8(6, p.regionType == nil ? 0 : 1); u32(7, p.regionType?.type ?? 0); u32(8, p.regionType?.subtype ?? 0)
            u64(9, p.sparseAreas.map { UInt64($0.count) + 1 } ?? 0)
            for a in p.sparseAreas ?? [] {
                visit.item(0, a.offset)
                visit.item(1, a.size)
            }
        case .irqBinding(let p):
            i32(0, p.fd); s(1, p.device); u32(2, p.index); u32(3, p.start); u32(4, p.count); u32(5, p.flags)
            u64(6, UInt64(p.eventfds.count))
            for fd in p.eventfds { visit.item(0, ColumnSchema.zigzag(Int64(fd))) }
        case .deviceState(let p):
            i32(0, p.fd); s(1, p.device); u8(2, p.migrationProtocol.rawValue); u8(3, p.operation.rawValue)
            u32(4, p.requested); u32(5, p.resulting); i32(6, p.dataFd)
        case .mapping(let p):
            u8(0, p.operation.rawValue); i32(1, p.fd); s(2, p.device); i32(3, p.region)
            u64(4, p.regionOffset); u64(5, p.address); u64(6, p.length); u64(7, p.newAddress); u64(8, p.newLength)
            u32(9, p.prot); u32(10, p.flags); u64(11, p.fileOffset)
        case .memslot(let p):
            i32(0, p.vmFd); u32(1, p.slot); u32(2, p.flags); u64(3, p.guestPhys); u64(4, p.size); u64(5, p.userAddress)
        case .eventfd(let p):
            u8(0, p.operation.rawValue); i32(1, p.fd); u64(2, p.value); u32(3, p.flags)
        case .irqfd(let p):
            i32(0, p.vmFd); i32(1, p.fd); u32(2, p.gsi); u32(3, p.flags); i32(4, p.resampleFd)
        case .regionAccess(let p):
            u8(0, p.operation.rawValue); i32(1, p.fd); s(2, p.device); i32(3, p.region)
            u64(4, p.offset); u64(5, p.length); u64(6, p.value)
        case .fd(let p):
            u8(0, p.operation.rawValue); i32(1, p.fd); i32(2, p.sourceFd); u8(3, p.kind.rawValue); s(4, p.path)
        case .process(let p):
            u8(0, p.operation.rawValue); i32(1, p.target); i32(2, p.status); s(3, p.command)
        case .marker(let p):
            s(0, p.source); s(1, p.name); s(2, p.device); u64(3, UInt64(p.fields.count))
            for f in p.fields {
                visit.itemString(0, f.key)
                visit.itemString(1, f.value)
            }
        case .lost(let p):
            u64(0, p.count); u64(1, p.fromNs); u64(2, p.toNs)
        }
    }
}
