/// Address and offset arithmetic on values read from outside: a start and a length from a trace, a log or a
/// tracee may be anything, and a range whose end wraps past 2^64 would trap.
extension UInt64 {
    /// `self + other`, or `UInt64.max` where the sum would not fit.
    @inline(__always)
    public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

extension Range where Bound == UInt64 {
    /// `start ..< start + length`, ending at `UInt64.max` where the sum would wrap.
    @inline(__always)
    public init(start: UInt64, length: UInt64) { self = start..<start.saturatingAdd(length) }

    /// `upperBound - lowerBound` (`count` converts to Int and traps above Int.max).
    public var length: UInt64 { upperBound - lowerBound }
}
