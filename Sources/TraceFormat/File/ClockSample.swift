#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// A (CLOCK_MONOTONIC, CLOCK_REALTIME) pair read back to back, so monotonic event times can be
/// mapped to wall-clock time (and to other logs) later.
public struct ClockSample: Sendable, Hashable, Codable {
    public var monotonicNs: UInt64
    public var realtimeNs: UInt64

    public init(monotonicNs: UInt64, realtimeNs: UInt64) {
        self.monotonicNs = monotonicNs
        self.realtimeNs = realtimeNs
    }

    public static func now() -> ClockSample {
        ClockSample(monotonicNs: MonotonicClock.now(), realtimeNs: MonotonicClock.realtimeNow())
    }

    /// Realtime minus monotonic, in ns: add to a monotonic time to get wall-clock time.
    public var offsetNs: Int64 { Int64(bitPattern: realtimeNs &- monotonicNs) }
}

/// Reads the kernel clocks the format is defined on.
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    public static func realtimeNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
