import Histogram

/// count, min, p50, p90, p99, p99.9, max, mean of a set of latencies (HDR histogram, 3 significant digits).
public struct LatencySummary: Sendable, Codable, Equatable {
    public var count: UInt64
    public var minNs: UInt64
    public var p50Ns: UInt64
    public var p90Ns: UInt64
    public var p99Ns: UInt64
    public var p999Ns: UInt64
    public var maxNs: UInt64
    public var meanNs: Double

    public static let empty = LatencySummary(count: 0, minNs: 0, p50Ns: 0, p90Ns: 0, p99Ns: 0, p999Ns: 0, maxNs: 0, meanNs: 0)
}

/// Collects latencies into an HDR histogram; exact min/max are kept beside it.
struct LatencyRecorder {
    private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
    private var minValue = UInt64.max
    private var maxValue: UInt64 = 0
    private var sum: Double = 0

    var count: UInt64 { histogram.totalCount }

    mutating func record(_ ns: UInt64) {
        _ = histogram.record(min(ns, 3_600_000_000_000))
        minValue = min(minValue, ns)
        maxValue = max(maxValue, ns)
        sum += Double(ns)
    }

    var summary: LatencySummary {
        guard count > 0 else { return .empty }
        // Percentiles come from the histogram (within 0.1 %), clamped to the exact extremes.
        func p(_ q: Double) -> UInt64 { Swift.min(maxValue, Swift.max(minValue, histogram.valueAtPercentile(q))) }
        return LatencySummary(
            count: count, minNs: minValue, p50Ns: p(50), p90Ns: p(90), p99Ns: p(99), p999Ns: p(99.9),
            maxNs: maxValue, meanNs: sum / Double(count))
    }
}
