#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// A (CLOCK_MONOTONIC, CLOCK_REALTIME) pair read together, so monotonic event times can be mapped to
/// wall-clock time (and to other logs) later.
public struct ClockSample: Sendable, Hashable, Codable {
    public var monotonicNs: UInt64
    public var realtimeNs: UInt64

    public init(monotonicNs: UInt64, realtimeNs: UInt64) {
        self.monotonicNs = monotonicNs
        self.realtimeNs = realtimeNs
    }

    /// The clocks now: CLOCK_REALTIME read between two CLOCK_MONOTONIC reads, paired with their midpoint, the
    /// tightest of up to eight tries. Two reads back to back are usually well under a microsecond apart, but not
    /// always: a thread preempted between them, or a clock the kernel reads from an emulated device (a TCG guest's),
    /// leaves milliseconds, and a pair read across them maps every time of the file that far off.
    public static func now() -> ClockSample {
        var best = ClockSample(monotonicNs: 0, realtimeNs: 0)
        var window = UInt64.max
        for _ in 0..<8 {
            let before = MonotonicClock.now()
            let real = MonotonicClock.realtimeNow()
            let after = MonotonicClock.now()
            let w = after >= before ? after - before : 0
            if w < window {
                window = w
                best = ClockSample(monotonicNs: before + w / 2, realtimeNs: real)
            }
            if window <= 1_000 { break }
        }
        return best
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
