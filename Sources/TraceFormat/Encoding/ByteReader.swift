/// Bounds-checked reader over a byte buffer. Every length read from the data is checked against
/// what remains before anything is allocated, so damaged input fails cleanly.
struct ByteReader {
    /// Thrown on overrun or a malformed value; the caller adds file/chunk context.
    ///
    /// Plain numbers and static text until reported: the decoder's many throw sites stay small and out of
    /// the way of the decoding loop (building the text at each site made the loop several times larger).
    struct Malformed: Error {
        /// The message, with \u{1} and \u{2} standing for `a` and `b` (\u{3}: `a` as a signed number) and
        /// \u{4} for `what`.
        let format: StaticString
        var a: UInt64 = 0
        var b: UInt64 = 0
        var what: StaticString = ""
        var position: Int

        init(_ format: StaticString, _ a: UInt64 = 0, _ b: UInt64 = 0, what: StaticString = "", position: Int) {
            self.format = format
            self.a = a
            self.b = b
            self.what = what
            self.position = position
        }

        var message: String {
            var out = ""
            for c in format.description.unicodeScalars {
                switch c {
                case "\u{1}": out += String(a)
                case "\u{2}": out += String(b)
                case "\u{3}": out += String(Int64(bitPattern: a))
                case "\u{4}": out += what.description
                default: out.unicodeScalars.append(c)
                }
            }
            return out
        }
    }

    let base: UnsafeRawBufferPointer
    var position: Int

    init(_ base: UnsafeRawBufferPointer, position: Int = 0) {
        self.base = base
        self.position = position
    }

    var remaining: Int { base.count - position }
    var atEnd: Bool { position >= base.count }

    @inline(__always)
    mutating func u8() throws(Malformed) -> UInt8 {
        guard position < base.count else { throw Malformed("unexpected end of data", position: position) }
        let b = base[position]
        position += 1
        return b
    }

    @inline(__always)
    mutating func varint() throws(Malformed) -> UInt64 {
        if position < base.count {
            let b = base[position]
            if b < 0x80 {
                position += 1
                return UInt64(b)
            }
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < base.count else { throw Malformed("unexpected end of data in varint", position: position) }
            let b = base[position]
            position += 1
            if shift == 63 && b > 1 { throw Malformed("varint overflows 64 bits", position: position - 1) }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw Malformed("varint too long", position: position) }
        }
    }

    @inline(__always)
    mutating func varint32() throws(Malformed) -> UInt32 {
        let v = try varint()
        guard v <= UInt64(UInt32.max) else { throw Malformed("value \u{1} exceeds 32 bits", v, position: position) }
        return UInt32(v)
    }

    @inline(__always)
    mutating func zigzag() throws(Malformed) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    @inline(__always)
    mutating func zigzag32() throws(Malformed) -> Int32 {
        let v = try zigzag()
        guard v >= Int64(Int32.min) && v <= Int64(Int32.max) else {
            throw Malformed("value \u{3} exceeds 32 bits", UInt64(bitPattern: v), position: position)
        }
        return Int32(v)
    }

    mutating func fixed32() throws(Malformed) -> UInt32 {
        guard remaining >= 4 else { throw Malformed("unexpected end of data", position: position) }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(littleEndian: v)
    }

    mutating func fixed64() throws(Malformed) -> UInt64 {
        guard remaining >= 8 else { throw Malformed("unexpected end of data", position: position) }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: v)
    }

    /// A count of items that each take at least one byte: bounded by what remains.
    @inline(__always)
    mutating func count() throws(Malformed) -> Int {
        let n = try varint()
        guard n <= UInt64(remaining) else {
            throw Malformed("count \u{1} exceeds the \u{2} bytes that remain", n, UInt64(remaining), position: position)
        }
        return Int(n)
    }

    /// The length of a list inside one event: bounded by what remains and by `TraceFormat.maxListItems`.
    @inline(__always)
    mutating func listCount() throws(Malformed) -> Int {
        let at = position
        let n = try count()
        guard n <= TraceFormat.maxListItems else {
            throw Malformed("list of \u{1} items exceeds the \u{2} an event may hold", UInt64(n), UInt64(TraceFormat.maxListItems), position: at)
        }
        return n
    }

    mutating func bytes(_ n: Int) throws(Malformed) -> [UInt8] {
        guard n >= 0 && n <= remaining else { throw Malformed("length \u{3} exceeds the \u{2} bytes that remain", UInt64(bitPattern: Int64(n)), UInt64(remaining), position: position) }
        let out = [UInt8](UnsafeRawBufferPointer(rebasing: base[position..<(position + n)]))
        position += n
        return out
    }

    mutating func string() throws(Malformed) -> String {
        let n = try count()
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: base[position..<(position + n)]), as: UTF8.self)
        position += n
        return s
    }
}
