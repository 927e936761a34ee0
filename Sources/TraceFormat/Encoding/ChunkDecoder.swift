/// Decodes one chunk's raw body (see `ChunkEncoder`). Never trusts a length it has not bounded.
struct ChunkDecoder {
    @inline(__always)
    private static func enumValue<T: RawRepresentable>(_ r: inout ByteReader, _: T.Type, _ what: String) throws(ByteReader.Malformed) -> T
    where T.RawValue == UInt8 {
        let at = r.position
        let raw = try r.u8()
        guard let v = T(rawValue: raw) else { throw ByteReader.Malformed(message: "unknown \(what) \(raw)", position: at) }
        return v
    }

    /// Decodes all events of a chunk body, appending to `out`. `expected` is the header's event count.
    static func decode(_ raw: UnsafeRawBufferPointer, expected: Int, into out: inout [TraceEvent]) throws(ByteReader.Malformed) {
        // `expected` is checked against the raw size, but the reservation need not trust it.
        out.reserveCapacity(out.count + min(expected, 1 << 16))
        try decode(raw, expected: expected) { out.append($0) }
    }

    /// Decodes all events of a chunk body, handing each to `visit` as soon as it is decoded (no buffering).
    static func decode(_ raw: UnsafeRawBufferPointer, expected: Int, visit: (TraceEvent) -> Void) throws(ByteReader.Malformed) {
        var r = ByteReader(raw)
        let n = try r.count()
        guard n <= TraceFormat.maxStringsPerChunk else {
            throw ByteReader.Malformed(
                message: "string table of \(n) entries exceeds the \(TraceFormat.maxStringsPerChunk) a chunk may hold", position: 0)
        }
        var table: [String] = []
        table.reserveCapacity(n)
        for _ in 0..<n { table.append(try r.string()) }
        @inline(__always) func str(_ r: inout ByteReader) throws(ByteReader.Malformed) -> String {
            let at = r.position
            let i = try r.varint()
            guard i < UInt64(table.count) else {
                throw ByteReader.Malformed(message: "string index \(i) outside table of \(table.count)", position: at)
            }
            return table[Int(i)]
        }

        var prevTime: UInt64 = 0
        var prevPid: Int32 = 0
        var prevTid: Int32 = 0
        var decoded = 0
        while !r.atEnd {
            guard decoded < expected else {
                throw ByteReader.Malformed(message: "more events than the \(expected) the header declares", position: r.position)
            }
            let kindAt = r.position
            let kindRaw = try r.u8()
            guard let kind = EventKind(rawValue: kindRaw) else {
                throw ByteReader.Malformed(message: "unknown event kind \(kindRaw)", position: kindAt)
            }
            let flags = try r.u8()
            let time = prevTime &+ UInt64(bitPattern: try r.zigzag())
            let endTime = flags & 1 != 0 ? time &+ UInt64(bitPattern: try r.zigzag()) : time
            let pid = flags & 2 != 0 ? try r.zigzag32() : prevPid
            var tid = prevTid
            if flags & 4 != 0 {
                let d = try r.zigzag()
                let (t, overflow) = Int64(pid).addingReportingOverflow(d)
                guard !overflow, t >= Int64(Int32.min) && t <= Int64(Int32.max) else {
                    throw ByteReader.Malformed(message: "tid out of range", position: r.position)
                }
                tid = Int32(t)
            }
            let result = flags & 8 != 0 ? try r.zigzag() : 0
            prevTime = time
            prevPid = pid
            prevTid = tid

            let payload: EventPayload
            switch kind {
            case .vfioIoctl:
                let fd = try r.zigzag32()
                let target = try enumValue(&r, FdKind.self, "fd kind")
                let device = try str(&r)
                let request = try r.varint32()
                let len = try r.count()
                payload = .vfioIoctl(VFIOIoctl(fd: fd, target: target, device: device, request: request, argument: try r.bytes(len)))
            case .ioctl:
                payload = .ioctl(
                    GenericIoctl(
                        fd: try r.zigzag32(), target: try enumValue(&r, FdKind.self, "fd kind"),
                        request: try r.varint32(), argument: try r.varint()))
            case .deviceOpen:
                payload = .deviceOpen(DeviceOpen(fd: try r.zigzag32(), groupFd: try r.zigzag32(), device: try str(&r)))
            case .regionInfo:
                let fd = try r.zigzag32()
                let device = try str(&r)
                let index = try r.varint32()
                let rflags = try r.varint32()
                let size = try r.varint()
                let offset = try r.varint()
                var type: RegionInfo.RegionType?
                switch try r.u8() {
                case 0: type = nil
                case 1: type = RegionInfo.RegionType(type: try r.varint32(), subtype: try r.varint32())
                default: throw ByteReader.Malformed(message: "bad region type marker", position: r.position - 1)
                }
                // Stored as count + 1 (0 = no sparse capability); each area takes at least 2 bytes.
                let areaAt = r.position
                let areaCount = try r.varint()
                guard areaCount <= UInt64(min(r.remaining / 2, TraceFormat.maxListItems)) + 1 else {
                    throw ByteReader.Malformed(message: "sparse area count \(areaCount) exceeds the data", position: areaAt)
                }
                var areas: [RegionInfo.Area]?
                if areaCount > 0 {
                    var list: [RegionInfo.Area] = []
                    list.reserveCapacity(Int(areaCount) - 1)
                    for _ in 0..<(Int(areaCount) - 1) { list.append(RegionInfo.Area(offset: try r.varint(), size: try r.varint())) }
                    areas = list
                }
                payload = .regionInfo(
                    RegionInfo(
                        fd: fd, device: device, index: index, flags: rflags, size: size, offset: offset,
                        regionType: type, sparseAreas: areas))
            case .irqBinding:
                let fd = try r.zigzag32()
                let device = try str(&r)
                let index = try r.varint32()
                let start = try r.varint32()
                let count = try r.varint32()
                let iflags = try r.varint32()
                let nfds = try r.listCount()
                var fds: [Int32] = []
                fds.reserveCapacity(nfds)
                for _ in 0..<nfds { fds.append(try r.zigzag32()) }
                payload = .irqBinding(IrqBinding(fd: fd, device: device, index: index, start: start, count: count, flags: iflags, eventfds: fds))
            case .deviceState:
                payload = .deviceState(
                    DeviceStateChange(
                        fd: try r.zigzag32(), device: try str(&r),
                        migrationProtocol: try enumValue(&r, DeviceStateChange.MigrationProtocol.self, "migration protocol"),
                        operation: try enumValue(&r, DeviceStateChange.Operation.self, "device_state operation"),
                        requested: try r.varint32(), resulting: try r.varint32(), dataFd: try r.zigzag32()))
            case .mapping:
                payload = .mapping(
                    MappingChange(
                        operation: try enumValue(&r, MappingChange.Operation.self, "mapping operation"),
                        fd: try r.zigzag32(), device: try str(&r), region: try r.zigzag32(), regionOffset: try r.varint(),
                        address: try r.varint(), length: try r.varint(), newAddress: try r.varint(), newLength: try r.varint(),
                        prot: try r.varint32(), flags: try r.varint32(), fileOffset: try r.varint()))
            case .memslot:
                payload = .memslot(
                    Memslot(
                        vmFd: try r.zigzag32(), slot: try r.varint32(), flags: try r.varint32(),
                        guestPhys: try r.varint(), size: try r.varint(), userAddress: try r.varint()))
            case .eventfd:
                payload = .eventfd(
                    EventfdOp(
                        operation: try enumValue(&r, EventfdOp.Operation.self, "eventfd operation"),
                        fd: try r.zigzag32(), value: try r.varint(), flags: try r.varint32()))
            case .irqfd:
                payload = .irqfd(
                    Irqfd(
                        vmFd: try r.zigzag32(), fd: try r.zigzag32(), gsi: try r.varint32(),
                        flags: try r.varint32(), resampleFd: try r.zigzag32()))
            case .regionAccess:
                payload = .regionAccess(
                    RegionAccess(
                        operation: try enumValue(&r, RegionAccess.Operation.self, "access operation"),
                        fd: try r.zigzag32(), device: try str(&r), region: try r.zigzag32(), offset: try r.varint(),
                        length: try r.varint(), value: try r.varint()))
            case .fd:
                payload = .fd(
                    FdChange(
                        operation: try enumValue(&r, FdChange.Operation.self, "fd operation"),
                        fd: try r.zigzag32(), sourceFd: try r.zigzag32(),
                        kind: try enumValue(&r, FdKind.self, "fd kind"), path: try str(&r)))
            case .process:
                payload = .process(
                    ProcessChange(
                        operation: try enumValue(&r, ProcessChange.Operation.self, "process operation"),
                        target: try r.zigzag32(), status: try r.zigzag32(), command: try str(&r)))
            case .marker:
                let source = try str(&r)
                let name = try str(&r)
                let device = try str(&r)
                let nf = try r.listCount()
                var fields: [Marker.Field] = []
                fields.reserveCapacity(nf)
                for _ in 0..<nf { fields.append(Marker.Field(try str(&r), try str(&r))) }
                payload = .marker(Marker(source: source, name: name, device: device, fields: fields))
            case .lost:
                payload = .lost(LostEvents(count: try r.varint(), fromNs: try r.varint(), toNs: try r.varint()))
            }
            visit(TraceEvent(time: time, endTime: endTime, pid: pid, tid: tid, result: result, payload: consume payload))
            decoded += 1
        }
        guard decoded == expected else {
            throw ByteReader.Malformed(message: "chunk holds \(decoded) events but the header declares \(expected)", position: r.position)
        }
    }
}
