extension ChunkDecoder {
    /// A version 2 chunk being decoded (docs/FORMAT.md, "Chunk body, version 2").
    ///
    /// Every column is located and every value that can be invalid (kinds, flags, enums, string indices, list
    /// lengths) is checked when the cursor is made, column by column in tight loops; `fill` then only reads.
    /// Values that cannot be invalid are not read at all until a view asks for them.
    struct ColumnCursor {
        let chunk: DecodedChunk
        let count: Int
        let kinds: UnsafePointer<UInt8>
        // The header's columns, each read in order, and where each has got to.
        var flags: Stepper
        var delta: Stepper
        var duration: Stepper
        var pid: Stepper
        var tid: Stepper
        var result: Stepper
        var index = 0
        var time: UInt64 = 0
        var lastPid: Int32 = 0
        var lastTid: Int32 = 0
        /// The next row of each kind in its columns, and of its list items.
        var rows = InlineArray<16, Int32>(repeating: 0)
        var items = InlineArray<16, Int32>(repeating: 0)
        /// The kinds with a list (bit per kind), and the slot of each one's length.
        let listKinds: UInt32
        let countSlots: InlineArray<16, Int>
        /// Each checked kind byte's `EventKind`: a load where a switch would be a jump per event.
        let kindOf: InlineArray<16, EventKind>

        init(_ raw: UnsafeRawBufferPointer, expected: Int, chunk: DecodedChunk) throws(ByteReader.Malformed) {
            var r = ByteReader(raw)
            try ChunkDecoder.readTable(&r, into: chunk)
            chunk.raw = raw
            self.chunk = chunk
            count = expected
            let tableCount = UInt64(chunk.table.count)
            guard let start = raw.baseAddress else { throw ByteReader.Malformed("empty chunk body", position: 0) }

            /// Locates the next column of `n` values; `minWidth` 1 where a list's items must take room of their own.
            func column(_ n: Int, _ spec: ColumnSchema.Spec, minWidth: Int = 0) throws(ByteReader.Malformed) -> Column {
                let at = r.position
                let w = Int(try r.u8())
                guard w <= spec.maxWidth, n == 0 || w >= minWidth else {
                    throw ByteReader.Malformed("column width \u{1} not allowed here (at most \u{2})", UInt64(w), UInt64(spec.maxWidth), position: at)
                }
                guard w == 0 || n <= r.remaining / w else {
                    throw ByteReader.Malformed(
                        "column of \u{1} values of \u{2} bytes runs past the end of the chunk", UInt64(n), UInt64(w), position: at)
                }
                let c = Column(base: start + r.position, width: w)
                r.position += n * w
                switch spec.check {
                case .none, .count:
                    break
                case .oneOf(let valid):
                    // Checked without a branch per value; the first bad one is looked for only once one is found.
                    var bad: UInt64 = 0
                    for i in 0..<n {
                        let v = c.load(i)
                        bad |= v >> 6 | ~(valid &>> v) & 1
                    }
                    if bad != 0, let i = (0..<n).first(where: { c.load($0) >= 64 || valid >> c.load($0) & 1 == 0 }) {
                        throw ByteReader.Malformed("unknown enum value \u{1}", c.load(i), position: at + 1 + i * w)
                    }
                case .string:
                    var largest: UInt64 = 0
                    for i in 0..<n { largest = max(largest, c.load(i)) }
                    if largest >= tableCount, let i = (0..<n).first(where: { c.load($0) >= tableCount }) {
                        throw ByteReader.Malformed("string index \u{1} outside table of \u{2}", c.load(i), tableCount, position: at + 1 + i * w)
                    }
                }
                return c
            }

            time = try r.fixed64()
            // Kinds: one byte each; the count of each kind sizes its columns.
            let kindsAt = r.position
            guard try r.u8() == 1 else { throw ByteReader.Malformed("the kind column must be 1 byte wide", position: kindsAt) }
            guard expected <= r.remaining else {
                throw ByteReader.Malformed("the header declares \u{1} events, more than the chunk holds", UInt64(expected), position: kindsAt)
            }
            let kindBytes = (start + r.position).assumingMemoryBound(to: UInt8.self)
            kinds = kindBytes
            r.position += expected
            // Four tallies taken in turn, so that a run of one kind is not one chain of increments to one counter.
            var tally = InlineArray<64, Int32>(repeating: 0)
            var badKind: UInt8 = 0
            var i = 0
            while i + 4 <= expected {
                for lane in 0..<4 {
                    let k = kindBytes[i + lane]
                    badKind |= k &- 1 > 14 ? 1 : 0
                    tally[lane * 16 + Int(k & 15)] &+= 1
                }
                i += 4
            }
            while i < expected {
                let k = kindBytes[i]
                badKind |= k &- 1 > 14 ? 1 : 0
                tally[Int(k & 15)] &+= 1
                i += 1
            }
            var perKind = InlineArray<16, Int>(repeating: 0)
            for k in 0..<16 { perKind[k] = Int(tally[k]) + Int(tally[16 + k]) + Int(tally[32 + k]) + Int(tally[48 + k]) }
            if badKind != 0, let i = (0..<expected).first(where: { kindBytes[$0] &- 1 > 14 }) {
                throw ByteReader.Malformed("unknown event kind \u{1}", UInt64(kindBytes[i]), position: kindsAt + 1 + i)
            }

            // Flags: which events carry a duration, pid, tid and result; the counts size those columns.
            let flagsAt = r.position
            let flagColumn = try column(expected, ColumnSchema.u8)
            flags = Stepper(flagColumn)
            var present = InlineArray<4, Int>(repeating: 0)
            if flagColumn.width != 0 {
                let bytes = (start + flagsAt + 1).assumingMemoryBound(to: UInt8.self)
                var any: UInt8 = 0
                for i in 0..<expected {
                    let f = bytes[i]
                    any |= f
                    present[0] &+= Int(f & 1)
                    present[1] &+= Int(f >> 1 & 1)
                    present[2] &+= Int(f >> 2 & 1)
                    present[3] &+= Int(f >> 3 & 1)
                }
                if any & ~0xF != 0, let i = (0..<expected).first(where: { bytes[$0] & ~0xF != 0 }) {
                    throw ByteReader.Malformed("reserved event flags \u{1} set", UInt64(bytes[i]), position: flagsAt + 1 + i)
                }
            }
            let h = ColumnSchema.header
            delta = Stepper(try column(expected, h[0]))
            duration = Stepper(try column(present[0], h[1]))
            pid = Stepper(try column(present[1], h[2]))
            tid = Stepper(try column(present[2], h[3]))
            result = Stepper(try column(present[3], h[4]))

            var listKinds: UInt32 = 0
            var countSlots = InlineArray<16, Int>(repeating: 0)
            for k in 1...15 {
                let schema = ColumnSchema.kinds[k]
                let n = perKind[k]
                let slots = chunk.columns + k * ColumnSchema.slotsPerKind
                if let c = schema.countField {
                    listKinds |= 1 << UInt32(k)
                    countSlots[k] = k * ColumnSchema.slotsPerKind + c
                }
                var itemCount = 0
                for (i, spec) in schema.fields.enumerated() {
                    let at = r.position
                    let c = try column(n, spec)
                    slots[i] = c
                    if case .count(let limit, let plusOne) = spec.check {
                        // A list's length, bounded per event; the items they add up to size the item columns.
                        let most = UInt64(limit) + (plusOne ? 1 : 0)
                        for row in 0..<n {
                            let v = c.load(row)
                            guard v <= most else {
                                throw ByteReader.Malformed(
                                    "list of \u{1} items exceeds the \u{2} an event may hold", v, UInt64(limit), position: at + 1 + row * c.width)
                            }
                            itemCount += Int(v) - (plusOne && v > 0 ? 1 : 0)
                        }
                    }
                }
                for (j, spec) in schema.items.enumerated() {
                    // Items take at least a byte each: a chunk's lists never hold more items than it has bytes.
                    slots[ColumnSchema.itemSlot + j] = try column(itemCount, spec, minWidth: 1)
                }
            }
            var kindOf = InlineArray<16, EventKind>(repeating: .lost)
            for k in EventKind.allCases { kindOf[Int(k.rawValue)] = k }
            self.kindOf = kindOf
            self.listKinds = listKinds
            self.countSlots = countSlots
            guard r.atEnd else {
                throw ByteReader.Malformed("\u{1} bytes after the last column", UInt64(r.remaining), position: r.position)
            }
        }

        /// Fills `out` with up to `capacity` views; 0 at the end of the chunk.
        mutating func fill(_ out: UnsafeMutablePointer<EventView>, capacity: Int) -> Int {
            let end = min(count, index + capacity)
            let chunk = self.chunk
            let listKinds = self.listKinds
            let kindOf = self.kindOf
            var time = self.time
            var lastPid = self.lastPid
            var lastTid = self.lastTid
            // Each column walked by a pointer stepped by its width (by 0 where an optional value is absent).
            var flagsAt = flags
            var deltaAt = delta
            var durationAt = duration
            var pidAt = pid
            var tidAt = tid
            var resultAt = result
            var rows = self.rows
            var items = self.items
            var filled = 0
            for i in index..<end {
                let k = Int(kinds[i])
                let f = flagsAt.next(1)
                time = time &+ UInt64(bitPattern: ColumnSchema.unzigzag(deltaAt.next(1)))
                // Each optional value is read whether present or not (its column's next row, or the padding after it)
                // and kept only where present: no branch per event on its flags.
                let hasDuration = f & 1
                let d = durationAt.next(hasDuration)
                let endTime = time &+ (hasDuration != 0 ? UInt64(bitPattern: ColumnSchema.unzigzag(d)) : 0)
                let hasPid = f >> 1 & 1
                let p = pidAt.next(hasPid)
                lastPid = hasPid != 0 ? Int32(truncatingIfNeeded: ColumnSchema.unzigzag(p)) : lastPid
                let hasTid = f >> 2 & 1
                let t = tidAt.next(hasTid)
                lastTid = hasTid != 0 ? Int32(truncatingIfNeeded: ColumnSchema.unzigzag(t)) : lastTid
                let hasResult = f >> 3 & 1
                let res = resultAt.next(hasResult)
                let row = rows[k]
                rows[k] = row &+ 1
                var listAt: Int32 = 0
                if listKinds >> UInt32(k) & 1 != 0 {
                    listAt = items[k]
                    let n = chunk.columns[countSlots[k]].load(Int(row))
                    items[k] = listAt &+ Int32(truncatingIfNeeded: k == Int(EventKind.regionInfo.rawValue) && n > 0 ? n &- 1 : n)
                }
                (out + filled).initialize(
                    to: EventView(
                        header: EventHeader(
                            time: time, endTime: endTime, pid: lastPid, tid: lastTid,
                            result: hasResult != 0 ? ColumnSchema.unzigzag(res) : 0),
                        kind: kindOf[k], row: row, listAt: listAt, chunk: chunk))
                filled &+= 1
            }
            flags = flagsAt
            delta = deltaAt
            duration = durationAt
            pid = pidAt
            tid = tidAt
            result = resultAt
            index = end
            self.time = time
            self.lastPid = lastPid
            self.lastTid = lastTid
            self.rows = rows
            self.items = items
            return filled
        }
    }

    /// A column read in order: a pointer stepped by the column's width.
    struct Stepper {
        var at: UnsafeRawPointer
        let width: Int
        let mask: UInt64

        /// At the column's first value.
        @inline(__always) init(_ c: Column) {
            at = c.base
            width = c.width
            mask = c.mask
        }

        /// The value here; then steps on by `step` (0 or 1) values.
        @inline(__always) mutating func next(_ step: UInt64) -> UInt64 {
            let v = UInt64(littleEndian: at.loadUnaligned(as: UInt64.self)) & mask
            at += width &* Int(step)
            return v
        }

    }
}
