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

    /// Events decoded per batch: the views of one batch stay in the CPU's cache while they are visited.
    static let batchSize = 512

    /// Decodes all events of a chunk body as views over `raw`, handing them over in batches (valid during the
    /// call): no call per event, so the decoding loop keeps its state in registers. `chunk` is reused from chunk to
    /// chunk: it holds the chunk's string table and columns while its views are visited. `raw` must be followed by
    /// `TraceFormat.rawPadding` readable bytes (columns are read 8 bytes at a time).
    ///
    /// A version 2 body is checked whole before its first event is handed over: a malformed one hands over nothing.
    /// A version 1 body is checked event by event: the events before a malformed one are handed over first.
    static func decode(
        _ raw: UnsafeRawBufferPointer, version: UInt16, expected: Int, chunk: DecodedChunk,
        batches visit: (UnsafeBufferPointer<EventView>) -> Void
    ) throws(ByteReader.Malformed) {
        chunk.version = version
        defer { chunk.raw = UnsafeRawBufferPointer(start: nil, count: 0) }
        let buffer = UnsafeMutablePointer<EventView>.allocate(capacity: batchSize)
        defer { buffer.deallocate() }
        if version >= 2 {
            var cursor = try ColumnCursor(raw, expected: expected, chunk: chunk)
            while true {
                let n = cursor.fill(buffer, capacity: batchSize)
                if n == 0 { break }
                visit(UnsafeBufferPointer(start: buffer, count: n))
                buffer.deinitialize(count: n)
            }
            return
        }
        var cursor = try Cursor(raw, expected: expected, chunk: chunk)
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

    /// Reads a chunk body's string table (both versions).
    static func readTable(_ r: inout ByteReader, into chunk: DecodedChunk) throws(ByteReader.Malformed) {
        let n = try r.count()
        guard n <= TraceFormat.maxStringsPerChunk else {
            throw ByteReader.Malformed(
                "string table of \u{1} entries exceeds the \u{2} a chunk may hold", UInt64(n), UInt64(TraceFormat.maxStringsPerChunk),
                position: 0)
        }
        chunk.table.removeAll(keepingCapacity: true)
        chunk.table.reserveCapacity(n)
        for _ in 0..<n { chunk.table.append(try r.string()) }
    }

    /// A version 1 chunk being decoded, batch by batch: each event parsed in turn, its payload numbers written to the
    /// chunk's scratch columns (one row per event of the batch).
    struct Cursor {
        var r: ByteReader
        let expected: Int
        let chunk: DecodedChunk
        let tableCount: UInt64
        let scratch: UnsafeMutablePointer<UInt64>
        var prevTime: UInt64 = 0
        var prevPid: Int32 = 0
        var prevTid: Int32 = 0
        var decoded = 0

        init(_ raw: UnsafeRawBufferPointer, expected: Int, chunk: DecodedChunk) throws(ByteReader.Malformed) {
            var r = ByteReader(raw)
            try ChunkDecoder.readTable(&r, into: chunk)
            chunk.raw = raw
            self.r = r
            self.expected = expected
            self.chunk = chunk
            tableCount = UInt64(chunk.table.count)
            scratch = chunk.useScratch(rows: ChunkDecoder.batchSize)
        }

        func finish() throws(ByteReader.Malformed) {
            guard decoded == expected else {
                throw ByteReader.Malformed(
                    "chunk holds \u{1} events but the header declares \u{2}", UInt64(decoded), UInt64(expected), position: r.position)
            }
        }

        /// Decodes up to `capacity` (≤ `batchSize`) events into `out`, counting them in `filled` (0 at the end).
        mutating func fill(_ out: UnsafeMutablePointer<EventView>, capacity: Int, filled: inout Int) throws(ByteReader.Malformed) {
            let tableCount = self.tableCount
            let chunk = self.chunk
            let expected = self.expected
            let scratch = self.scratch
            let stride = ChunkDecoder.batchSize
            var r = self.r
            var prevTime = self.prevTime
            var prevPid = self.prevPid
            var prevTid = self.prevTid
            var decoded = self.decoded
            // Rows of this batch, per kind.
            var rows = InlineArray<16, Int32>(repeating: 0)
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
            // A signed 32-bit field, kept zigzag-encoded as the columns hold it.
            @inline(__always) func zz(_ r: inout ByteReader) throws(ByteReader.Malformed) -> UInt64 {
                let v = try r.varint()
                guard v <= UInt64(UInt32.max) else {
                    throw ByteReader.Malformed("value \u{3} exceeds 32 bits", UInt64(bitPattern: ColumnSchema.unzigzag(v)), position: r.position)
                }
                return v
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
                // Every event of the batch carries its pid, tid and result in the header's scratch columns.
                scratch[ColumnSchema.pidSlot * stride + filled] = ColumnSchema.zigzag(Int64(pid))
                scratch[ColumnSchema.tidSlot * stride + filled] = ColumnSchema.zigzag(Int64(tid))
                scratch[ColumnSchema.resultSlot * stride + filled] = ColumnSchema.zigzag(result)

                // The payload's fields in order, each checked as `EventView.payload` will read it.
                let row = rows[Int(kind.rawValue)]
                rows[Int(kind.rawValue)] = row + 1
                let slots = scratch + Int(kind.rawValue) * ColumnSchema.slotsPerKind * stride + Int(row)
                var listAt = 0
                @inline(__always) func put(_ i: Int, _ value: UInt64) { slots[i * stride] = value }
                switch kind {
                case .vfioIoctl:
                    put(0, try zz(&r))
                    put(1, try en(&r, FdKind.self, "fd kind"))
                    put(2, try str(&r))
                    put(3, try v32(&r))
                    let n = try r.count()
                    put(4, UInt64(n))
                    listAt = r.position
                    r.position += n
                case .ioctl:
                    put(0, try zz(&r))
                    put(1, try en(&r, FdKind.self, "fd kind"))
                    put(2, try v32(&r))
                    put(3, try r.varint())
                case .deviceOpen:
                    put(0, try zz(&r))
                    put(1, try zz(&r))
                    put(2, try str(&r))
                case .regionInfo:
                    put(0, try zz(&r))
                    put(1, try str(&r))
                    put(2, try v32(&r))
                    put(3, try v32(&r))
                    put(4, try r.varint())
                    put(5, try r.varint())
                    switch try r.u8() {
                    case 0:
                        put(6, 0)
                        put(7, 0)
                        put(8, 0)
                    case 1:
                        put(6, 1)
                        put(7, try v32(&r))
                        put(8, try v32(&r))
                    default: throw ByteReader.Malformed("bad region type marker", position: r.position - 1)
                    }
                    // Stored as count + 1 (0 = no sparse capability); each area takes at least 2 bytes.
                    let areaAt = r.position
                    let areaCount = try r.varint()
                    guard areaCount <= UInt64(min(r.remaining / 2, TraceFormat.maxListItems)) + 1 else {
                        throw ByteReader.Malformed("sparse area count \u{1} exceeds the data", areaCount, position: areaAt)
                    }
                    put(9, areaCount)
                    listAt = r.position
                    if areaCount > 1 { for _ in 0..<(Int(areaCount) - 1) { _ = try r.varint(); _ = try r.varint() } }
                case .irqBinding:
                    put(0, try zz(&r))
                    put(1, try str(&r))
                    put(2, try v32(&r))
                    put(3, try v32(&r))
                    put(4, try v32(&r))
                    put(5, try v32(&r))
                    let n = try r.listCount()
                    put(6, UInt64(n))
                    listAt = r.position
                    for _ in 0..<n { _ = try r.zigzag32() }
                case .deviceState:
                    put(0, try zz(&r))
                    put(1, try str(&r))
                    put(2, try en(&r, DeviceStateChange.MigrationProtocol.self, "migration protocol"))
                    put(3, try en(&r, DeviceStateChange.Operation.self, "device_state operation"))
                    put(4, try v32(&r))
                    put(5, try v32(&r))
                    put(6, try zz(&r))
                case .mapping:
                    put(0, try en(&r, MappingChange.Operation.self, "mapping operation"))
                    put(1, try zz(&r))
                    put(2, try str(&r))
                    put(3, try zz(&r))
                    for i in 4..<9 { put(i, try r.varint()) }
                    put(9, try v32(&r))
                    put(10, try v32(&r))
                    put(11, try r.varint())
                case .memslot:
                    put(0, try zz(&r))
                    put(1, try v32(&r))
                    put(2, try v32(&r))
                    put(3, try r.varint())
                    put(4, try r.varint())
                    put(5, try r.varint())
                case .eventfd:
                    put(0, try en(&r, EventfdOp.Operation.self, "eventfd operation"))
                    put(1, try zz(&r))
                    put(2, try r.varint())
                    put(3, try v32(&r))
                case .irqfd:
                    put(0, try zz(&r))
                    put(1, try zz(&r))
                    put(2, try v32(&r))
                    put(3, try v32(&r))
                    put(4, try zz(&r))
                case .regionAccess:
                    put(0, try en(&r, RegionAccess.Operation.self, "access operation"))
                    put(1, try zz(&r))
                    put(2, try str(&r))
                    put(3, try zz(&r))
                    put(4, try r.varint())
                    put(5, try r.varint())
                    put(6, try r.varint())
                case .fd:
                    put(0, try en(&r, FdChange.Operation.self, "fd operation"))
                    put(1, try zz(&r))
                    put(2, try zz(&r))
                    put(3, try en(&r, FdKind.self, "fd kind"))
                    put(4, try str(&r))
                case .process:
                    put(0, try en(&r, ProcessChange.Operation.self, "process operation"))
                    put(1, try zz(&r))
                    put(2, try zz(&r))
                    put(3, try str(&r))
                case .marker:
                    put(0, try str(&r))
                    put(1, try str(&r))
                    put(2, try str(&r))
                    let n = try r.listCount()
                    put(3, UInt64(n))
                    listAt = r.position
                    for _ in 0..<n {
                        _ = try str(&r)
                        _ = try str(&r)
                    }
                case .lost:
                    put(0, try r.varint())
                    put(1, try r.varint())
                    put(2, try r.varint())
                }
                (out + filled).initialize(
                    to: EventView(
                        time: time, endTime: endTime, kind: kind, row: row, listAt: Int32(truncatingIfNeeded: listAt),
                        index: Int32(truncatingIfNeeded: filled), chunk: chunk))
                filled += 1
                decoded += 1
            }
        }
    }
}
