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
        // The header's columns read in order, and where each has got to (pid, tid and result are read by the views).
        var flags: Stepper
        var delta: Stepper
        var duration: Stepper
        var index = 0
        var time: UInt64 = 0
        /// The next row of each kind in its columns, and of its list items.
        var rows = InlineArray<16, Int32>(repeating: 0)
        var items = InlineArray<16, Int32>(repeating: 0)
        /// The kinds with a list (bit per kind), and the slot of each one's length.
        let listKinds: UInt32
        let countSlots: InlineArray<16, Int>

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
                    // Checked without a branch per value (enums are 1 byte wide, or 0: all 0); the first bad one is
                    // looked for only once one is found.
                    var bad: UInt64 = 0
                    if w == 1 {
                        for i in 0..<n {
                            let v = UInt64(c.base.load(fromByteOffset: i, as: UInt8.self))
                            bad |= v &>> 6 | ~(valid &>> (v & 63)) & 1
                        }
                    } else if n > 0 {
                        bad = ~valid & 1
                    }
                    if bad != 0, let i = (0..<n).first(where: { c.load($0) >= 64 || valid >> c.load($0) & 1 == 0 }) {
                        throw ByteReader.Malformed("unknown enum value \u{1}", c.load(i), position: at + 1 + i * w)
                    }
                case .string:
                    // The largest index, by the column's width: the narrow ones in loops the compiler can vectorize.
                    @inline(__always) func largestOf<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) -> UInt64 {
                        var m: T = 0
                        for i in 0..<n { m = max(m, T(littleEndian: c.base.loadUnaligned(fromByteOffset: i &* w, as: T.self))) }
                        return UInt64(m)
                    }
                    var largest: UInt64 = 0
                    switch w {
                    case 0: break
                    case 1: largest = largestOf(UInt8.self)
                    case 2: largest = largestOf(UInt16.self)
                    default: for i in 0..<n { largest = max(largest, c.load(i)) }
                    }
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

            // Flags: which events carry a duration, pid, tid and result; the counts size those columns, the masks
            // (`DecodedChunk.headerMasks`) let a view find its pid, tid and result without those before it decoded.
            let flagsAt = r.position
            let flagColumn = try column(expected, ColumnSchema.u8)
            flags = Stepper(flagColumn)
            let present = try ColumnCursor.flagMasks(flagColumn, count: expected, into: chunk, at: flagsAt)
            let h = ColumnSchema.header
            delta = Stepper(try column(expected, h[0]))
            duration = Stepper(try column(present[0], h[1]))
            // Read by the views, by the header masks.
            chunk.columns[ColumnSchema.pidSlot] = try column(present[1], h[2])
            chunk.columns[ColumnSchema.tidSlot] = try column(present[2], h[3])
            chunk.columns[ColumnSchema.resultSlot] = try column(present[3], h[4])
            chunk.notePids(carrying: present[1])

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
            self.listKinds = listKinds
            self.countSlots = countSlots
            guard r.atEnd else {
                throw ByteReader.Malformed("\u{1} bytes after the last column", UInt64(r.remaining), position: r.position)
            }
        }

        /// The kind of a kind byte already checked to be 1...15, without a call or a table: `EventKind`'s cases are
        /// declared in raw-value order from 1, so each case's tag is its raw value − 1 (`EventViewTests.kindTags` pins this).
        @inline(__always) static func kind(checked k: UInt8) -> EventKind { unsafeBitCast(k &- 1, to: EventKind.self) }

        /// Fills `out` with up to `capacity` views; 0 at the end of the chunk.
        mutating func fill(_ out: UnsafeMutablePointer<EventView>, capacity: Int) -> Int {
            let start = index
            let end = min(count, index + capacity)
            guard end > start else { return 0 }
            let chunk = self.chunk
            let listKinds = self.listKinds
            let kinds = self.kinds
            var time = self.time
            var flagsAt = flags
            // Each column walked by a pointer stepped by its width (by 0 where an optional value is absent).
            var deltaAt = delta
            var durationAt = duration
            var rows = self.rows
            var items = self.items
            var view = out
            for i in start..<end {
                let k = kinds[i]
                let f = flagsAt.next(1)
                time = time &+ UInt64(bitPattern: ColumnSchema.unzigzag(deltaAt.next(1)))
                // The duration is read whether present or not (its column's next row, or the padding after it) and
                // kept only where present: no branch per event on its flag.
                let hasDuration = f & 1
                let d = durationAt.next(hasDuration)
                let endTime = time &+ (hasDuration != 0 ? UInt64(bitPattern: ColumnSchema.unzigzag(d)) : 0)
                let row = rows[Int(k & 15)]
                rows[Int(k & 15)] = row &+ 1
                var listAt: Int32 = 0
                if listKinds >> UInt32(k & 15) & 1 != 0 {
                    listAt = items[Int(k & 15)]
                    let n = chunk.columns[countSlots[Int(k & 15)]].load(Int(row))
                    items[Int(k & 15)] = listAt &+ Int32(truncatingIfNeeded: k == EventKind.regionInfo.rawValue && n > 0 ? n &- 1 : n)
                }
                view.initialize(
                    to: EventView(
                        time: time, endTime: endTime, kind: ColumnCursor.kind(checked: k), row: row, listAt: listAt,
                        index: Int32(truncatingIfNeeded: i), chunk: chunk))
                view += 1
            }
            flags = flagsAt
            delta = deltaAt
            duration = durationAt
            self.time = time
            self.rows = rows
            self.items = items
            index = end
            return end - start
        }

        /// Reads the flag column of `count` events: how many events carry a duration, pid, tid and result, and, per
        /// block of 64 events, which carry a pid, a tid and a result (`DecodedChunk.headerMasks`), eight flags a load.
        static func flagMasks(_ c: Column, count: Int, into chunk: DecodedChunk, at flagsAt: Int) throws(ByteReader.Malformed)
            -> InlineArray<4, Int>
        {
            let blocks = (count + 63) >> 6
            chunk.reserveHeaderBlocks(blocks)
            let masks = chunk.headerMasks
            let starts = chunk.headerStarts
            var present = InlineArray<4, Int>(repeating: 0)
            guard c.width != 0 else {
                // Every flag 0: no event carries any.
                masks.update(repeating: 0, count: blocks * 4)
                starts.update(repeating: 0, count: blocks * 4)
                return present
            }
            /// Bit 0 of each of a word's 8 bytes, gathered into the word's low 8 bits (byte k to bit k).
            @inline(__always) func gather(_ x: UInt64) -> UInt64 { ((x & 0x0101_0101_0101_0101) &* 0x0102_0408_1020_4080) &>> 56 }
            var any: UInt64 = 0
            var m0: UInt64 = 0, m1: UInt64 = 0, m2: UInt64 = 0, m3: UInt64 = 0
            let words = (count + 7) >> 3
            for w in 0..<words {
                var x = UInt64(littleEndian: (c.base + w &* 8).loadUnaligned(as: UInt64.self))
                let left = count &- w &* 8
                if left < 8 { x &= (1 &<< UInt64(left &* 8)) &- 1 }
                any |= x
                let shift = UInt64(w & 7) &* 8
                m0 |= gather(x) &<< shift
                m1 |= gather(x &>> 1) &<< shift
                m2 |= gather(x &>> 2) &<< shift
                m3 |= gather(x &>> 3) &<< shift
                if w & 7 == 7 || w == words &- 1 {
                    let b = (w &>> 3) &* 4
                    masks[b] = m1
                    masks[b &+ 1] = m2
                    masks[b &+ 2] = m3
                    starts[b] = Int32(truncatingIfNeeded: present[1])
                    starts[b &+ 1] = Int32(truncatingIfNeeded: present[2])
                    starts[b &+ 2] = Int32(truncatingIfNeeded: present[3])
                    present[0] &+= m0.nonzeroBitCount
                    present[1] &+= m1.nonzeroBitCount
                    present[2] &+= m2.nonzeroBitCount
                    present[3] &+= m3.nonzeroBitCount
                    m0 = 0
                    m1 = 0
                    m2 = 0
                    m3 = 0
                }
            }
            if any & 0xF0F0_F0F0_F0F0_F0F0 != 0, let i = (0..<count).first(where: { c.load($0) & ~0xF != 0 }) {
                throw ByteReader.Malformed("reserved event flags \u{1} set", c.load(i), position: flagsAt + 1 + i)
            }
            return present
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
