/// Encodes events into one chunk's raw (uncompressed) body: a string table, then the events.
///
/// Timestamps are zigzag deltas from the previous event; pid, tid, result and duration are only
/// written when they differ from the common case. See docs/FORMAT.md, "Chunk body".
struct ChunkEncoder {
    private var body = ByteWriter(capacity: 1 << 20)
    private var strings: [String: UInt32] = [:]
    private var stringList: [String] = []
    private var prevTime: UInt64 = 0
    private var prevPid: Int32 = 0
    private var prevTid: Int32 = 0
    private(set) var eventCount = 0
    private(set) var firstTime: UInt64 = .max
    private(set) var lastTime: UInt64 = 0

    /// Bytes of the string table's strings so far.
    private var tableBytes = 0

    /// Bytes of the raw body so far, the string table included (its length prefixes approximated).
    var approximateSize: Int { body.count + tableBytes }
    var stringCount: Int { stringList.count }

    mutating func reset() {
        body.removeAll()
        strings.removeAll(keepingCapacity: true)
        stringList.removeAll(keepingCapacity: true)
        prevTime = 0
        prevPid = 0
        prevTid = 0
        eventCount = 0
        firstTime = .max
        lastTime = 0
        tableBytes = 0
    }

    /// The complete raw chunk body.
    func finish() -> [UInt8] {
        var table = ByteWriter(capacity: 64 + stringList.reduce(0) { $0 + $1.utf8.count + 2 })
        table.varint(UInt64(stringList.count))
        for s in stringList { table.string(s) }
        return table.bytes + body.bytes
    }

    private mutating func str(_ s: String) {
        if let i = strings[s] {
            body.varint(i)
            return
        }
        let i = UInt32(stringList.count)
        strings[s] = i
        stringList.append(s)
        tableBytes += s.utf8.count + 1
        body.varint(i)
    }

    /// Appends `e`, or leaves the chunk as it was and returns false when the event alone would take more
    /// than `TraceFormat.maxEventBytes` (a reader must be able to bound what one chunk holds).
    mutating func append(_ e: TraceEvent) -> Bool {
        let before = (body: body.count, strings: stringList.count, table: tableBytes)
        let previous = (prevTime, prevPid, prevTid, eventCount, firstTime, lastTime)
        encode(e)
        if approximateSize - before.body - before.table <= TraceFormat.maxEventBytes { return true }
        body.truncate(to: before.body)
        for s in stringList[before.strings...] { strings[s] = nil }
        stringList.removeSubrange(before.strings...)
        tableBytes = before.table
        (prevTime, prevPid, prevTid, eventCount, firstTime, lastTime) = previous
        return false
    }

    private mutating func encode(_ e: TraceEvent) {
        body.u8(e.kind.rawValue)
        var flags: UInt8 = 0
        if e.endTime != e.time { flags |= 1 }
        if e.pid != prevPid { flags |= 2 }
        if e.tid != prevTid { flags |= 4 }
        if e.result != 0 { flags |= 8 }
        body.u8(flags)
        body.zigzag(Int64(bitPattern: e.time &- prevTime))
        if flags & 1 != 0 { body.zigzag(Int64(bitPattern: e.endTime &- e.time)) }
        if flags & 2 != 0 { body.zigzag(e.pid) }
        if flags & 4 != 0 { body.zigzag(Int64(e.tid) - Int64(e.pid)) }
        if flags & 8 != 0 { body.zigzag(e.result) }
        prevTime = e.time
        prevPid = e.pid
        prevTid = e.tid
        eventCount += 1
        firstTime = min(firstTime, e.time)
        lastTime = max(lastTime, e.endTime)
        encodePayload(e.payload)
    }

    private mutating func encodePayload(_ payload: EventPayload) {
        switch payload {
        case .vfioIoctl(let p):
            body.zigzag(p.fd); body.u8(p.target.rawValue); str(p.device); body.varint(p.request)
            body.varint(UInt64(p.argument.count)); body.raw(p.argument)
        case .ioctl(let p):
            body.zigzag(p.fd); body.u8(p.target.rawValue); body.varint(p.request); body.varint(p.argument)
        case .deviceOpen(let p):
            body.zigzag(p.fd); body.zigzag(p.groupFd); str(p.device)
        case .regionInfo(let p):
            body.zigzag(p.fd); str(p.device); body.varint(p.index); body.varint(p.flags)
            body.varint(p.size); body.varint(p.offset)
            if let t = p.regionType {
                body.u8(1); body.varint(t.type); body.varint(t.subtype)
            } else {
                body.u8(0)
            }
            if let areas = p.sparseAreas {
                body.varint(UInt64(areas.count) + 1)
                for a in areas { body.varint(a.offset); body.varint(a.size) }
            } else {
                body.varint(UInt64(0))
            }
        case .irqBinding(let p):
            body.zigzag(p.fd); str(p.device); body.varint(p.index); body.varint(p.start)
            body.varint(p.count); body.varint(p.flags)
            body.varint(UInt64(p.eventfds.count))
            for fd in p.eventfds { body.zigzag(fd) }
        case .deviceState(let p):
            body.zigzag(p.fd); str(p.device); body.u8(p.migrationProtocol.rawValue); body.u8(p.operation.rawValue)
            body.varint(p.requested); body.varint(p.resulting); body.zigzag(p.dataFd)
        case .mapping(let p):
            body.u8(p.operation.rawValue); body.zigzag(p.fd); str(p.device); body.zigzag(p.region)
            body.varint(p.regionOffset); body.varint(p.address); body.varint(p.length)
            body.varint(p.newAddress); body.varint(p.newLength); body.varint(p.prot); body.varint(p.flags)
            body.varint(p.fileOffset)
        case .memslot(let p):
            body.zigzag(p.vmFd); body.varint(p.slot); body.varint(p.flags); body.varint(p.guestPhys)
            body.varint(p.size); body.varint(p.userAddress)
        case .eventfd(let p):
            body.u8(p.operation.rawValue); body.zigzag(p.fd); body.varint(p.value); body.varint(p.flags)
        case .irqfd(let p):
            body.zigzag(p.vmFd); body.zigzag(p.fd); body.varint(p.gsi); body.varint(p.flags); body.zigzag(p.resampleFd)
        case .regionAccess(let p):
            body.u8(p.operation.rawValue); body.zigzag(p.fd); str(p.device); body.zigzag(p.region)
            body.varint(p.offset); body.varint(p.length); body.varint(p.value)
        case .fd(let p):
            body.u8(p.operation.rawValue); body.zigzag(p.fd); body.zigzag(p.sourceFd); body.u8(p.kind.rawValue); str(p.path)
        case .process(let p):
            body.u8(p.operation.rawValue); body.zigzag(p.target); body.zigzag(p.status); str(p.command)
        case .marker(let p):
            str(p.source); str(p.name); str(p.device)
            body.varint(UInt64(p.fields.count))
            for f in p.fields { str(f.key); str(f.value) }
        case .lost(let p):
            body.varint(p.count); body.varint(p.fromNs); body.varint(p.toNs)
        }
    }
}
