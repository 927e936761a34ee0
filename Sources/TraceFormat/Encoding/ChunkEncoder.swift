/// Encodes events into one chunk's raw (uncompressed) body, format version 2: a string table, then columns (see
/// docs/FORMAT.md, "Chunk body, version 2", and `ColumnSchema`).
///
/// Values are gathered per column while the chunk is open; `finish` writes each column at the narrowest width that
/// holds its largest value. Timestamps are zigzag deltas from the previous event; pid, tid, result and duration
/// are only stored when they differ from the common case.
struct ChunkEncoder {
    /// One column's values so far and the largest of them.
    private struct Builder {
        var values: [UInt64] = []
        var maximum: UInt64 = 0
        /// Item columns take at least a byte per value (a reader bounds a chunk's items by its size).
        var minWidth = 0
        var width: Int { values.isEmpty ? 0 : max(ColumnSchema.width(for: maximum), minWidth) }

        /// Adds `v`, keeping `bytes` (the columns' bytes at their widths) up to date.
        @inline(__always)
        mutating func append(_ v: UInt64, to bytes: inout Int) {
            let before = width
            values.append(v)
            if v > maximum { maximum = v }
            let after = width
            bytes += after + (after - before) * (values.count - 1)
        }
    }

    private var strings: [String: UInt32] = [:]
    private var stringList: [String] = []
    private var kinds: [UInt8] = []
    private var flags: [UInt8] = []
    private var columns: [Builder]
    /// The first event's time: the first Δtime is taken from it (a small number, like the others).
    private var baseTime: UInt64 = 0
    private var prevTime: UInt64 = 0
    private var prevPid: Int32 = 0
    private var prevTid: Int32 = 0
    /// The first column slot of the kind whose payload is being encoded.
    private var payloadSlot = 0
    private(set) var firstTime: UInt64 = .max
    private(set) var lastTime: UInt64 = 0
    var eventCount: Int { kinds.count }

    /// Bytes of the string table's strings so far, and of the columns at their current widths.
    private var tableBytes = 0
    private var columnBytes = 0

    /// Bytes of the raw body so far (string-table length prefixes and column widths approximated).
    var approximateSize: Int { tableBytes + 2 * kinds.count + columnBytes + ColumnSchema.slotCount + 8 }
    var stringCount: Int { stringList.count }

    init() {
        columns = [Builder](repeating: Builder(), count: ColumnSchema.slotCount)
        for k in 1...15 {
            for j in ColumnSchema.kinds[k].items.indices { columns[k * ColumnSchema.slotsPerKind + ColumnSchema.itemSlot + j].minWidth = 1 }
        }
    }

    mutating func reset() {
        strings.removeAll(keepingCapacity: true)
        stringList.removeAll(keepingCapacity: true)
        kinds.removeAll(keepingCapacity: true)
        flags.removeAll(keepingCapacity: true)
        for i in columns.indices {
            columns[i].values.removeAll(keepingCapacity: true)
            columns[i].maximum = 0
        }
        baseTime = 0
        prevTime = 0
        prevPid = 0
        prevTid = 0
        firstTime = .max
        lastTime = 0
        tableBytes = 0
        columnBytes = 0
        valueCount = 0
    }

    /// The complete raw chunk body.
    func finish() -> [UInt8] {
        var out = ByteWriter(capacity: approximateSize + 16)
        out.varint(UInt64(stringList.count))
        for s in stringList { out.string(s) }
        out.fixed64(baseTime)
        out.u8(1)
        out.raw(kinds)
        if flags.contains(where: { $0 != 0 }) {
            out.u8(1)
            out.raw(flags)
        } else {
            out.u8(0)
        }
        // Header columns, then each kind's fields and list items, in slot order.
        var order = Array(0..<ColumnSchema.header.count)
        for k in 1...15 {
            let schema = ColumnSchema.kinds[k]
            let base = k * ColumnSchema.slotsPerKind
            order += schema.fields.indices.map { base + $0 }
            order += schema.items.indices.map { base + ColumnSchema.itemSlot + $0 }
        }
        for slot in order {
            let c = columns[slot]
            let w = c.width
            out.u8(UInt8(w))
            out.fixedWidth(c.values, width: w)
        }
        return out.bytes
    }

    // Far from any size limit an event's values go straight into their columns. Near one (`append`'s `widenLimit`)
    // they are staged first — its values by column and the strings it adds — so the writer can see what the chunk
    // would become (one large value widens its whole column) and seal before, not after.
    private var staging = false
    private var staged: [(slot: Int, value: UInt64)] = []
    private var stagedStrings: [String] = []
    /// Values in all columns so far.
    private var valueCount = 0

    @inline(__always)
    private mutating func push(_ slot: Int, _ v: UInt64) {
        if staging {
            staged.append((slot, v))
            return
        }
        columns[slot].append(v, to: &columnBytes)
        valueCount += 1
    }

    private mutating func str(_ slot: Int, _ s: String) {
        if let i = strings[s] {
            push(slot, UInt64(i))
        } else if !staging {
            let i = UInt32(stringList.count)
            strings[s] = i
            stringList.append(s)
            tableBytes += s.utf8.count + 1
            push(slot, UInt64(i))
        } else if let j = stagedStrings.firstIndex(of: s) {
            push(slot, UInt64(stringList.count + j))
        } else {
            push(slot, UInt64(stringList.count + stagedStrings.count))
            stagedStrings.append(s)
        }
    }

    /// The most bytes `e` can add to a chunk (every string counted as new, every column at its widest).
    private static func bound(_ e: TraceEvent) -> Int {
        var n = 64
        func s(_ x: String) { n += x.utf8.count + 8 }
        switch e.payload {
        case .vfioIoctl(let p): n += 40 + p.argument.count; s(p.device)
        case .regionInfo(let p): n += 80 + 16 * (p.sparseAreas?.count ?? 0); s(p.device)
        case .irqBinding(let p): n += 40 + 4 * p.eventfds.count; s(p.device)
        case .deviceOpen(let p): s(p.device)
        case .deviceState(let p): s(p.device)
        case .mapping(let p): s(p.device)
        case .regionAccess(let p): s(p.device)
        case .fd(let p): s(p.path)
        case .process(let p): s(p.command)
        case .marker(let p):
            s(p.source); s(p.name); s(p.device)
            for f in p.fields { s(f.key); s(f.value) }
        case .ioctl, .memslot, .eventfd, .irqfd, .lost: break
        }
        return n + 12 * 8
    }

    enum Appended {
        case appended
        /// The event alone could take more than `TraceFormat.maxEventBytes`: a reader must be able to bound what one
        /// chunk holds.
        case tooLarge
        /// Appending it would take the chunk past the limit asked for (it widens columns): seal first.
        case wouldWiden
    }

    /// Appends `e`, or leaves the chunk as it was and says why not. `widenLimit` bounds `approximateSize` after the
    /// append, widened columns included, unless the chunk is empty.
    mutating func append(_ e: TraceEvent, widenLimit: Int) -> Appended {
        let most = Self.bound(e)
        guard most <= TraceFormat.maxEventBytes else { return .tooLarge }
        // Every value so far, and this event's, widened to 8 bytes: seldom near the limit.
        staging = !kinds.isEmpty && tableBytes + 2 * kinds.count + ColumnSchema.slotCount + 10 + 8 * (valueCount + most) > widenLimit
        let first = kinds.isEmpty
        if first {
            baseTime = e.time
            prevTime = e.time
        }
        var f: UInt8 = 0
        if e.endTime != e.time { f |= 1 }
        if e.pid != prevPid { f |= 2 }
        if e.tid != prevTid { f |= 4 }
        if e.result != 0 { f |= 8 }
        push(ColumnSchema.deltaSlot, ColumnSchema.zigzag(Int64(bitPattern: e.time &- prevTime)))
        if f & 1 != 0 { push(ColumnSchema.durationSlot, ColumnSchema.zigzag(Int64(bitPattern: e.endTime &- e.time))) }
        if f & 2 != 0 { push(ColumnSchema.pidSlot, ColumnSchema.zigzag(Int64(e.pid))) }
        if f & 4 != 0 { push(ColumnSchema.tidSlot, ColumnSchema.zigzag(Int64(e.tid))) }
        if f & 8 != 0 { push(ColumnSchema.resultSlot, ColumnSchema.zigzag(e.result)) }
        encodePayload(e.payload, at: Int(e.kind.rawValue) * ColumnSchema.slotsPerKind)
        if staging {
            staging = false
            defer {
                staged.removeAll(keepingCapacity: true)
                stagedStrings.removeAll(keepingCapacity: true)
            }
            guard stagedSize() <= widenLimit else { return .wouldWiden }
            for s in stagedStrings {
                strings[s] = UInt32(stringList.count)
                stringList.append(s)
                tableBytes += s.utf8.count + 1
            }
            for (slot, v) in staged { push(slot, v) }
        }
        kinds.append(e.kind.rawValue)
        flags.append(f)
        prevTime = e.time
        prevPid = e.pid
        prevTid = e.tid
        firstTime = min(firstTime, e.time)
        lastTime = max(lastTime, e.endTime)
        return .appended
    }

    /// `append(_:widenLimit:)` without a limit on widening; false (nothing appended) when `e` is too large.
    mutating func append(_ e: TraceEvent) -> Bool { append(e, widenLimit: .max) == .appended }

    /// What `approximateSize` becomes with the staged event: its values and strings, and every column they widen,
    /// widened.
    private func stagedSize() -> Int {
        var widest = InlineArray<256, UInt64>(repeating: 0)
        var touched = InlineArray<256, Bool>(repeating: false)
        for (slot, v) in staged {
            widest[slot] = max(widest[slot], v)
            touched[slot] = true
        }
        var size = approximateSize + 2 + stagedStrings.reduce(0) { $0 + $1.utf8.count + 1 }
        for slot in 0..<ColumnSchema.slotCount where touched[slot] {
            let c = columns[slot]
            let w = max(ColumnSchema.width(for: max(c.maximum, widest[slot])), c.minWidth)
            size += (w - c.width) * c.values.count
        }
        for (slot, _) in staged { size += max(ColumnSchema.width(for: max(columns[slot].maximum, widest[slot])), columns[slot].minWidth) }
        return size
    }

    private mutating func encodePayload(_ payload: EventPayload, at b: Int) {
        payloadSlot = b
        payload.layOut(into: &self)
    }
}

extension ChunkEncoder: PayloadLayoutVisitor {
    // Each value of the payload being encoded into its column (`payloadSlot`: the kind's first).
    mutating func number(_ i: Int, _ v: UInt64) { push(payloadSlot + i, v) }
    mutating func string(_ i: Int, _ s: String) { str(payloadSlot + i, s) }
    mutating func item(_ j: Int, _ v: UInt64) { push(payloadSlot + ColumnSchema.itemSlot + j, v) }
    mutating func itemString(_ j: Int, _ s: String) { str(payloadSlot + ColumnSchema.itemSlot + j, s) }
}
