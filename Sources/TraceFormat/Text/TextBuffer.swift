/// Text built as bytes in one reused buffer: what `dump` formats millions of lines with (no String per
/// piece). Strings from a trace go through `escaped`, which writes them as `TerminalText` would.
public struct TextBuffer {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    public var count: Int { bytes.count }
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Our own text (literals, names from tables): no escaping.
    @inline(__always)
    public mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Our own text held in a String (names from tables, decoded argument text).
    @inline(__always)
    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    public mutating func byte(_ b: UInt8) { bytes.append(b) }

    /// Text from a trace or a log, escaped for a terminal (`TerminalText.escaped`).
    public mutating func escaped(_ s: String) {
        var s = s
        let clean = s.withUTF8 { u -> Bool in
            guard TerminalText.isPlain(u) else { return false }
            bytes.append(contentsOf: u)
            return true
        }
        if !clean { append(TerminalText.escaped(s)) }
    }

    /// Appends what `body` writes, at most `most` (≤ 48) bytes: numbers are written through a cursor on the stack,
    /// then appended at once, rather than byte by byte (each append checks the array's storage).
    @inline(__always)
    mutating func formatted(_ most: Int, _ body: (inout ByteCursor) -> Void) {
        var stack: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &stack) { raw in
            let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var c = ByteCursor(base, count: min(most, raw.count))
            body(&c)
            bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: c.written(since: base)))
        }
    }

    /// A decimal number.
    @inline(__always) public mutating func decimal(_ v: UInt64) { formatted(20) { $0.decimal(v) } }
    @inline(__always) public mutating func decimal(_ v: Int64) { formatted(20) { $0.decimal(v) } }
    @inline(__always) public mutating func decimal(_ v: Int32) { decimal(Int64(v)) }
    @inline(__always) public mutating func decimal(_ v: UInt32) { decimal(UInt64(v)) }

    /// `0x` and lowercase hex digits.
    @inline(__always) public mutating func hex(_ v: UInt64) { formatted(18) { $0.hex(v) } }

    /// Seconds.nanoseconds, as strace -ttt prints wall time but with ns precision.
    @inline(__always) public mutating func seconds(_ ns: UInt64) { formatted(30) { $0.seconds(ns) } }

    /// A duration in seconds with microsecond precision: 0.000123.
    @inline(__always) public mutating func duration(_ ns: UInt64) { formatted(27) { $0.duration(ns) } }
}

/// Writes text as bytes at a pointer, up to a limit: what `TextBuffer`'s numbers and `dump`'s lines are written
/// with (no check of an array's storage per byte). A write that does not fit writes nothing and sets `full`: the
/// caller then writes the whole text again with more room.
public struct ByteCursor {
    private(set) var at: UnsafeMutablePointer<UInt8>
    private let end: UnsafeMutablePointer<UInt8>
    /// True once a write did not fit: what was written is incomplete.
    public private(set) var full = false

    init(_ start: UnsafeMutablePointer<UInt8>, count: Int) {
        at = start
        end = start + max(count, 0)
    }

    /// Bytes written since `start` (where the cursor began).
    @inline(__always) func written(since start: UnsafeMutablePointer<UInt8>) -> Int { at - start }

    /// True when `n` more bytes fit; else sets `full`.
    @inline(__always)
    private mutating func room(_ n: Int) -> Bool {
        if end - at >= n { return true }
        full = true
        return false
    }

    @inline(__always)
    public mutating func byte(_ b: UInt8) {
        guard room(1) else { return }
        at.pointee = b
        at += 1
    }

    @inline(__always)
    public mutating func append(_ u: UnsafeBufferPointer<UInt8>) {
        guard room(u.count), let base = u.baseAddress else { return }
        let n = u.count
        if n <= 16 {
            Self.copySmall(base, n, to: at)
        } else {
            at.update(from: base, count: n)
        }
        at += n
    }

    /// Copies `n` ≤ 16 bytes with at most two loads and two stores that may overlap, where a call to memmove for a
    /// literal of a few bytes (`", "`, `"<eventfd>, ["`) costs more than the copy.
    @inline(__always)
    private static func copySmall(_ from: UnsafePointer<UInt8>, _ n: Int, to: UnsafeMutablePointer<UInt8>) {
        let s = UnsafeRawPointer(from)
        let d = UnsafeMutableRawPointer(to)
        if n >= 8 {
            let a = s.loadUnaligned(as: UInt64.self)
            let b = s.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            d.storeBytes(of: a, as: UInt64.self)
            d.storeBytes(of: b, toByteOffset: n &- 8, as: UInt64.self)
        } else if n >= 4 {
            let a = s.loadUnaligned(as: UInt32.self)
            let b = s.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
            d.storeBytes(of: a, as: UInt32.self)
            d.storeBytes(of: b, toByteOffset: n &- 4, as: UInt32.self)
        } else if n > 0 {
            to[0] = from[0]
            to[n >> 1] = from[n >> 1]
            to[n &- 1] = from[n &- 1]
        }
    }

    /// Our own text (literals): no escaping.
    @inline(__always)
    public mutating func append(_ s: StaticString) { s.withUTF8Buffer { append($0) } }

    /// Our own text held in a String (names from tables, decoded argument text).
    @inline(__always)
    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }

    @inline(__always)
    public mutating func append(_ a: [UInt8]) { a.withUnsafeBufferPointer { append($0) } }

    /// "00" to "99": two digits per table read, one division by 100 per pair.
    private static let pairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// The `n` low decimal digits of `x`, zero-padded, ending just before `p` (written right to left).
    @inline(__always)
    private static func digits(_ x: UInt64, _ n: Int, before p: UnsafeMutablePointer<UInt8>) {
        var x = x
        var i = n
        Self.pairs.withUTF8Buffer { pairs in
            let t = pairs.baseAddress!
            while i >= 2 {
                let d = Int(x % 100) &* 2
                x /= 100
                i &-= 2
                p[i - n] = t[d]
                p[i - n + 1] = t[d + 1]
            }
            if i == 1 { p[-n] = 0x30 &+ UInt8(truncatingIfNeeded: x % 10) }
        }
    }

    /// How many decimal digits `v` has (1 for 0).
    @inline(__always)
    private static func digitCount(_ v: UInt64) -> Int {
        var n = 1
        var x = v
        while x >= 10_000 {
            x /= 10_000
            n &+= 4
        }
        if x >= 10 { n &+= 1 }
        if x >= 100 { n &+= 1 }
        if x >= 1_000 { n &+= 1 }
        return n
    }

    /// A decimal number.
    @inline(__always)
    public mutating func decimal(_ v: UInt64) {
        if v < 10 { return byte(0x30 &+ UInt8(truncatingIfNeeded: v)) }
        let n = Self.digitCount(v)
        guard room(n) else { return }
        at += n
        Self.digits(v, n, before: at)
    }

    @inline(__always)
    public mutating func decimal(_ v: Int64) {
        if v < 0 { byte(0x2D) }
        decimal(v.magnitude)
    }

    @inline(__always) public mutating func decimal(_ v: Int32) { decimal(Int64(v)) }
    @inline(__always) public mutating func decimal(_ v: UInt32) { decimal(UInt64(v)) }

    /// The low `width` decimal digits of `v`, zero-padded (fractions of seconds).
    @inline(__always)
    mutating func padded(_ v: UInt64, width: Int) {
        guard width > 0, room(width) else { return }
        at += width
        Self.digits(v, width, before: at)
    }

    /// `0x` and lowercase hex digits.
    @inline(__always)
    public mutating func hex(_ v: UInt64) {
        let n = v == 0 ? 1 : (67 &- v.leadingZeroBitCount) >> 2
        guard room(n &+ 2) else { return }
        at[0] = 0x30
        at[1] = 0x78
        var x = v
        var i = n &+ 1
        while i >= 2 {
            let d = UInt8(truncatingIfNeeded: x & 0xF)
            at[i] = d < 10 ? 0x30 &+ d : 0x57 &+ d
            x >>= 4
            i &-= 1
        }
        at += n &+ 2
    }

    /// Seconds.nanoseconds, as strace -ttt prints wall time but with ns precision.
    @inline(__always)
    public mutating func seconds(_ ns: UInt64) {
        decimal(ns / 1_000_000_000)
        byte(0x2E)
        padded(ns % 1_000_000_000, width: 9)
    }

    /// A duration in seconds with microsecond precision, rounded to the nearest: 0.000123.
    @inline(__always)
    public mutating func duration(_ ns: UInt64) {
        let us = ns / 1000 + (ns % 1000 >= 500 ? 1 : 0)
        decimal(us / 1_000_000)
        byte(0x2E)
        padded(us % 1_000_000, width: 6)
    }
}
