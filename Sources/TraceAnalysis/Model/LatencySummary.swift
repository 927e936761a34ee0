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
    /// Made at the first latency: each histogram is some 30,000 zeroed counts, and of the six recorders per
    /// device most analyses fill a few.
    private var histogram: Histogram<UInt64>?
    private var minValue = UInt64.max
    private var maxValue: UInt64 = 0
    private var sum: Double = 0

    var count: UInt64 { histogram?.totalCount ?? 0 }

    mutating func record(_ ns: UInt64) {
        // Moved out and back: its counts stay uniquely referenced, so recording neither copies nor retains them.
        var h = histogram.take()
            ?? Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        h.record(min(ns, 3_600_000_000_000))
        histogram = consume h
        minValue = min(minValue, ns)
        maxValue = max(maxValue, ns)
        sum += Double(ns)
    }

    var summary: LatencySummary {
        guard count > 0 else { return .empty }
        // Percentiles come from the histogram (within 0.1 %), clamped to the exact extremes.
        let q = percentiles(50, 90, 99, 99.9)
        func p(_ i: Int) -> UInt64 { Swift.min(maxValue, Swift.max(minValue, q[i])) }
        return LatencySummary(
            count: count, minNs: minValue, p50Ns: p(0), p90Ns: p(1), p99Ns: p(2), p999Ns: p(3),
            maxNs: maxValue, meanNs: sum / Double(count))
    }

    /// `histogram.valueAtPercentile` of each of `levels` (ascending), in one walk over the recorded values: that
    /// method walks the whole bucket array, unspecialized, once per percentile, which made a report's latency
    /// tables cost more than a million events. Same rule: the highest value equivalent to the first bucket whose
    /// cumulative count reaches ceil(level·count/100) (level one ulp down), clamped to the recorded extremes.
    private func percentiles(_ levels: Double...) -> [UInt64] {
        guard let histogram else { return [UInt64](repeating: 0, count: levels.count) }
        let total = histogram.totalCount
        let targets = levels.map { level in
            let requested = Swift.min(Swift.max(level.nextDown, 0.0), 100.0)
            return Swift.max(1, UInt64(((requested * Double(total)) / 100.0).rounded(.up)))
        }
        var found = [UInt64](repeating: 0, count: levels.count)
        var k = 0
        for v in histogram.recordedValues() {
            while k < targets.count && v.totalCountToThisValue >= targets[k] {
                found[k] = Swift.max(Swift.min(v.value, histogram.maxRecorded), histogram.min)
                k += 1
            }
            if k == targets.count { break }
        }
        return found
    }
}
