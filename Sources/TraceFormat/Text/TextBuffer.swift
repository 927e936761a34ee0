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
            // ASCII without controls or backslashes needs nothing (the common case: names, paths).
            for b in u where b < 0x20 || b >= 0x7F || b == 0x5C { return false }
            bytes.append(contentsOf: u)
            return true
        }
        if !clean { append(TerminalText.escaped(s)) }
    }

    /// A decimal number.
    @inline(__always)
    public mutating func decimal(_ v: UInt64) {
        if v < 10 {
            bytes.append(0x30 &+ UInt8(v))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var x = v
        withUnsafeMutableBytes(of: &digits) { raw in
            while x > 0 {
                raw[n] = 0x30 &+ UInt8(x % 10)
                x /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(raw[i]) }
        }
    }

    public mutating func decimal(_ v: Int64) {
        if v < 0 {
            bytes.append(0x2D)
            decimal(v.magnitude)
        } else {
            decimal(UInt64(v))
        }
    }

    @inline(__always) public mutating func decimal(_ v: Int32) { decimal(Int64(v)) }
    @inline(__always) public mutating func decimal(_ v: UInt32) { decimal(UInt64(v)) }

    /// `0x` and lowercase hex digits.
    public mutating func hex(_ v: UInt64) {
        bytes.append(0x30)
        bytes.append(0x78)
        if v == 0 {
            bytes.append(0x30)
            return
        }
        var shift = (63 - v.leadingZeroBitCount) / 4 * 4
        while shift >= 0 {
            let d = UInt8((v >> UInt64(shift)) & 0xF)
            bytes.append(d < 10 ? 0x30 &+ d : 0x57 &+ d)
            shift -= 4
        }
    }

    /// The low `width` decimal digits of `v`, zero-padded (fractions of seconds). Written right to left, dividing by
    /// the constant 10 (a multiply), where dividing by a running power of ten was a hardware division per digit.
    mutating func padded(_ v: UInt64, width: Int) {
        guard width > 0 else { return }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0x30, count: width))
        var x = v
        bytes.withUnsafeMutableBufferPointer { b in
            var i = start + width - 1
            while i >= start {
                b[i] = 0x30 &+ UInt8(x % 10)
                x /= 10
                i -= 1
            }
        }
    }

    /// Seconds.nanoseconds, as strace -ttt prints wall time but with ns precision.
    public mutating func seconds(_ ns: UInt64) {
        decimal(ns / 1_000_000_000)
        bytes.append(0x2E)
        padded(ns % 1_000_000_000, width: 9)
    }

    /// A duration in seconds with microsecond precision: 0.000123.
    public mutating func duration(_ ns: UInt64) {
        let us = ns / 1000 + (ns % 1000 >= 500 ? 1 : 0)
        decimal(us / 1_000_000)
        bytes.append(0x2E)
        padded(us % 1_000_000, width: 6)
    }
}
