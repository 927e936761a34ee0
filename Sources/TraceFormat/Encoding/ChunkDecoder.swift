/// Decodes one chunk's raw body (see `ChunkEncoder`). Never trusts a length it has not bounded.
struct ChunkDecoder {
    @inline(__always)
    private static func enumValue<T: RawRepresentable>(_ r: inout ByteReader, _: T.Type, _ what: StaticString) throws(ByteReader.Malformed) -> T
    where T.RawValue == UInt8 {
        let at = r.position
        let raw = try r.u8()
        guard let v = T(rawValue: raw) else { throw ByteReader.Malformed("unknown \u{4} \u{1}", UInt64(raw), what: what, position: at) }
        return v
    }

    /// Decodes all events of a chunk body as views over `raw`, handing each to `visit` (valid during the call).
    /// `strings` is reused from chunk to chunk: it holds the chunk's string table while its views are visited.
    static func decode(
        _ raw: UnsafeRawBufferPointer, expected: Int, strings: ChunkStrings, visit: (EventView) -> Void
    ) throws(ByteReader.Malformed) {
        try decode(raw, expected: expected, strings: strings) { (batch: UnsafeBufferPointer<EventView>) in
            for v in batch { visit(v) }
        }
    }

    /// Events decoded per batch: the views of one batch stay in the CPU's cache while they are visited.
    static let batchSize = 512

    /// Decodes all events of a chunk body as views over `raw`, handing them over in batches (valid during the
    /// call): no call per event, so the decoding loop keeps its state in registers.
    static func decode(
        _ raw: UnsafeRawBufferPointer, expected: Int, strings: ChunkStrings, batches visit: (UnsafeBufferPointer<EventView>) -> Void
    ) throws(ByteReader.Malformed) {
        var cursor = try Cursor(raw, expected: expected, strings: strings)
        defer { strings.raw = UnsafeRawBufferPointer(start: nil, count: 0) }
        let buffer = UnsafeMutablePointer<EventView>.allocate(capacity: batchSize)
        defer { buffer.deallocate() }
        while true {
            // The events decoded before a malformed one are visited before the error is thrown.
            var n = 0
            let failure: ByteReader.Malformed?
            do throws(ByteReader.Malformed) {
                try cursor.fill(buffer, capacity: batchSize, filled: &n)
                failure = nil
            } catch {
                failure = error
            }
            if n > 0 { visit(UnsafeBufferPointer(start: buffer, count: n)) }
            buffer.deinitialize(count: n)
            if let failure { throw failure }
            if n == 0 { break }
        }
        try cursor.finish()
    }

    /// A chunk being decoded, batch by batch.
    struct Cursor {
        var r: ByteReader
        let expected: Int
        let strings: ChunkStrings
        let tableCount: UInt64
        var prevTime: UInt64 = 0
        var prevPid: Int32 = 0
        var prevTid: Int32 = 0
        var decoded = 0

        init(_ raw: UnsafeRawBufferPointer, expected: Int, strings: ChunkStrings) throws(ByteReader.Malformed) {
            var r = ByteReader(raw)
            let n = try r.count()
            guard n <= TraceFormat.maxStringsPerChunk else {
                throw ByteReader.Malformed(
                    "string table of \u{1} entries exceeds the \u{2} a chunk may hold", UInt64(n), UInt64(TraceFormat.maxStringsPerChunk),
                    position: 0)
            }
            strings.table.removeAll(keepingCapacity: true)
            strings.table.reserveCapacity(n)
            for _ in 0..<n { strings.table.append(try r.string()) }
            strings.raw = raw
            self.r = r
            self.expected = expected
            self.strings = strings
            tableCount = UInt64(n)
        }

        func finish() throws(ByteReader.Malformed) {
            guard decoded == expected else {
                throw ByteReader.Malformed(
                    "chunk holds \u{1} events but the header declares \u{2}", UInt64(decoded), UInt64(expected), position: r.position)
            }
        }

        /// Decodes up to `capacity` events into `out`, counting them in `filled` (0 at the end of the chunk).
        mutating func fill(_ out: UnsafeMutablePointer<EventView>, capacity: Int, filled: inout Int) throws(ByteReader.Malformed) {
            let tableCount = self.tableCount
            let strings = self.strings
            let expected = self.expected
            var r = self.r
            var prevTime = self.prevTime
            var prevPid = self.prevPid
            var prevTid = self.prevTid
            var decoded = self.decoded
            filled = 0
            defer {
                self.r = r
                self.prevTime = prevTime
                self.prevPid = prevPid
                self.prevTid = prevTid
                self.decoded = decoded
            }
            @inline(__always) func str(_ r: inout ByteReader) throws(ByteReader.Malformed) -> UInt64 {
                let at = r.position
                let i = try r.varint()
                guard i < tableCount else {
                    throw ByteReader.Malformed("string index \u{1} outside table of \u{2}", i, tableCount, position: at)
                }
                return i
            }
            @inline(__always) func en<T: RawRepresentable>(_ r: inout ByteReader, _ t: T.Type, _ what: StaticString) throws(ByteReader.Malformed)
                -> UInt64
            where T.RawValue == UInt8 {
                UInt64(try enumValue(&r, t, what).rawValue)
            }
            @inline(__always) func zz(_ r: inout ByteReader) throws(ByteReader.Malformed) -> UInt64 {
                UInt64(bitPattern: Int64(try r.zigzag32()))
            }
            @inline(__always) func v32(_ r: inout ByteReader) throws(ByteReader.Malformed) -> UInt64 {
                UInt64(try r.varint32())
            }

            while filled < capacity && !r.atEnd {
                guard decoded < expected else {
                    throw ByteReader.Malformed("more events than the \u{1} the header declares", UInt64(expected), position: r.position)
                }
                let kindAt = r.position
                let kindRaw = try r.u8()
                guard let kind = EventKind.decoded(kindRaw) else {
                    throw ByteReader.Malformed("unknown event kind \u{1}", UInt64(kindRaw), position: kindAt)
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
                        throw ByteReader.Malformed("tid out of range", position: r.position)
                    }
                    tid = Int32(t)
                }
                let result = flags & 8 != 0 ? try r.zigzag() : 0
                prevTime = time
                prevPid = pid
                prevTid = tid

                // The payload's fields in order, each checked as `EventView.payload` will read it.
                let v = out + filled
                v.initialize(
                    to: EventView(
                        header: EventHeader(time: time, endTime: endTime, pid: pid, tid: tid, result: result), kind: kind,
                        s: InlineArray(repeating: 0), listAt: 0, listCount: 0, chunk: strings))
                switch kind {
                case .vfioIoctl:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try en(&r, FdKind.self, "fd kind")
                    v.pointee.s[2] = try str(&r)
                    v.pointee.s[3] = try v32(&r)
                    v.pointee.listCount = try r.count()
                    v.pointee.listAt = r.position
                    r.position += v.pointee.listCount
                case .ioctl:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try en(&r, FdKind.self, "fd kind")
                    v.pointee.s[2] = try v32(&r)
                    v.pointee.s[3] = try r.varint()
                case .deviceOpen:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try zz(&r)
                    v.pointee.s[2] = try str(&r)
                case .regionInfo:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try str(&r)
                    v.pointee.s[2] = try v32(&r)
                    v.pointee.s[3] = try v32(&r)
                    v.pointee.s[4] = try r.varint()
                    v.pointee.s[5] = try r.varint()
                    switch try r.u8() {
                    case 0: break
                    case 1:
                        v.pointee.s[6] = 1
                        v.pointee.s[7] = try v32(&r)
                        v.pointee.s[8] = try v32(&r)
                    default: throw ByteReader.Malformed("bad region type marker", position: r.position - 1)
                    }
                    // Stored as count + 1 (0 = no sparse capability); each area takes at least 2 bytes.
                    let areaAt = r.position
                    let areaCount = try r.varint()
                    guard areaCount <= UInt64(min(r.remaining / 2, TraceFormat.maxListItems)) + 1 else {
                        throw ByteReader.Malformed("sparse area count \u{1} exceeds the data", areaCount, position: areaAt)
                    }
                    v.pointee.listCount = Int(areaCount)
                    v.pointee.listAt = r.position
                    if areaCount > 1 { for _ in 0..<(v.pointee.listCount - 1) { _ = try r.varint(); _ = try r.varint() } }
                case .irqBinding:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try str(&r)
                    v.pointee.s[2] = try v32(&r)
                    v.pointee.s[3] = try v32(&r)
                    v.pointee.s[4] = try v32(&r)
                    v.pointee.s[5] = try v32(&r)
                    v.pointee.listCount = try r.listCount()
                    v.pointee.listAt = r.position
                    for _ in 0..<v.pointee.listCount { _ = try r.zigzag32() }
                case .deviceState:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try str(&r)
                    v.pointee.s[2] = try en(&r, DeviceStateChange.MigrationProtocol.self, "migration protocol")
                    v.pointee.s[3] = try en(&r, DeviceStateChange.Operation.self, "device_state operation")
                    v.pointee.s[4] = try v32(&r)
                    v.pointee.s[5] = try v32(&r)
                    v.pointee.s[6] = try zz(&r)
                case .mapping:
                    v.pointee.s[0] = try en(&r, MappingChange.Operation.self, "mapping operation")
                    v.pointee.s[1] = try zz(&r)
                    v.pointee.s[2] = try str(&r)
                    v.pointee.s[3] = try zz(&r)
                    for i in 4..<9 { v.pointee.s[i] = try r.varint() }
                    v.pointee.s[9] = try v32(&r)
                    v.pointee.s[10] = try v32(&r)
                    v.pointee.s[11] = try r.varint()
                case .memslot:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try v32(&r)
                    v.pointee.s[2] = try v32(&r)
                    v.pointee.s[3] = try r.varint()
                    v.pointee.s[4] = try r.varint()
                    v.pointee.s[5] = try r.varint()
                case .eventfd:
                    v.pointee.s[0] = try en(&r, EventfdOp.Operation.self, "eventfd operation")
                    v.pointee.s[1] = try zz(&r)
                    v.pointee.s[2] = try r.varint()
                    v.pointee.s[3] = try v32(&r)
                case .irqfd:
                    v.pointee.s[0] = try zz(&r)
                    v.pointee.s[1] = try zz(&r)
                    v.pointee.s[2] = try v32(&r)
                    v.pointee.s[3] = try v32(&r)
                    v.pointee.s[4] = try zz(&r)
                case .regionAccess:
                    v.pointee.s[0] = try en(&r, RegionAccess.Operation.self, "access operation")
                    v.pointee.s[1] = try zz(&r)
                    v.pointee.s[2] = try str(&r)
                    v.pointee.s[3] = try zz(&r)
                    v.pointee.s[4] = try r.varint()
                    v.pointee.s[5] = try r.varint()
                    v.pointee.s[6] = try r.varint()
                case .fd:
                    v.pointee.s[0] = try en(&r, FdChange.Operation.self, "fd operation")
                    v.pointee.s[1] = try zz(&r)
                    v.pointee.s[2] = try zz(&r)
                    v.pointee.s[3] = try en(&r, FdKind.self, "fd kind")
                    v.pointee.s[4] = try str(&r)
                case .process:
                    v.pointee.s[0] = try en(&r, ProcessChange.Operation.self, "process operation")
                    v.pointee.s[1] = try zz(&r)
                    v.pointee.s[2] = try zz(&r)
                    v.pointee.s[3] = try str(&r)
                case .marker:
                    v.pointee.s[0] = try str(&r)
                    v.pointee.s[1] = try str(&r)
                    v.pointee.s[2] = try str(&r)
                    v.pointee.listCount = try r.listCount()
                    v.pointee.listAt = r.position
                    for _ in 0..<v.pointee.listCount {
                        _ = try str(&r)
                        _ = try str(&r)
                    }
                case .lost:
                    v.pointee.s[0] = try r.varint()
                    v.pointee.s[1] = try r.varint()
                    v.pointee.s[2] = try r.varint()
                }
                filled += 1
                decoded += 1
            }
        }
    }
}
