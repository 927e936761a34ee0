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
///
/// The histogram (some 30,000 counts, 270 KB) is made only for a recorder of more than `exactLimit` latencies: up to
/// there the latencies themselves are kept and the percentiles found among them, by selection, under the histogram's
/// own rule.
/// An analysis has a dozen recorders or more, and most hold a few thousand latencies; their histograms' fresh pages
/// and walks over mostly empty counts cost more than the rest of their gap accounting.
struct LatencyRecorder {
    private var histogram: Histogram<UInt64>?
    /// Without a histogram, every latency so far; with one, those not yet in it (recorded `pendingLimit` at a time:
    /// one count each in the histogram, touched between two events' work, cost a cache miss a latency; in one loop
    /// the misses overlap).
    private var held: [UInt64] = []
    private static let exactLimit = 16_384
    private static let pendingLimit = 1_024
    /// `exactLimit` until the histogram is made, then `pendingLimit` (kept apart: asking whether the histogram is
    /// there copies it out).
    private var heldLimit = exactLimit
    /// The histogram every recorder's starts as (a copy is one memcpy; making one fills its counts one generic call
    /// each), and whose bucket rule the exact percentiles follow.
    private static let empty = Histogram<UInt64>(highestTrackableValue: highestTrackable, numberOfSignificantValueDigits: .three)
    private static let highestTrackable: UInt64 = 3_600_000_000_000
    private var minValue = UInt64.max
    private var maxValue: UInt64 = 0
    private var sum: Double = 0
    private(set) var count: UInt64 = 0

    mutating func record(_ ns: UInt64) {
        held.append(Swift.min(ns, Self.highestTrackable))
        if held.count >= heldLimit { flush() }
        count += 1
        minValue = Swift.min(minValue, ns)
        maxValue = Swift.max(maxValue, ns)
        sum += Double(ns)
    }

    /// Moves the held latencies into the histogram, making it if there is none.
    private mutating func flush() {
        let spilling = heldLimit == Self.exactLimit
        // Moved out and back: its counts stay uniquely referenced, so recording neither copies nor retains them.
        var h = histogram.take() ?? Self.empty
        for v in held { h.record(v) }
        histogram = consume h
        if spilling {
            heldLimit = Self.pendingLimit
            held = []
            held.reserveCapacity(Self.pendingLimit)
        } else {
            held.removeAll(keepingCapacity: true)
        }
    }

    /// The figures so far.
    var summary: LatencySummary {
        mutating get {
            guard count > 0 else { return .empty }
            let exact = heldLimit == Self.exactLimit
            if !exact && !held.isEmpty { flush() }
            // Percentiles by the histogram's rule (within 0.1 %), clamped to the exact extremes.
            let q = exact ? exactPercentiles(50, 90, 99, 99.9) : percentiles(50, 90, 99, 99.9)
            func p(_ i: Int) -> UInt64 { Swift.min(maxValue, Swift.max(minValue, q[i])) }
            return LatencySummary(
                count: count, minNs: minValue, p50Ns: p(0), p90Ns: p(1), p99Ns: p(2), p999Ns: p(3),
                maxNs: maxValue, meanNs: sum / Double(count))
        }
    }

    /// The rank (from 1) of the latency at `level` percent of `total`: ceil(level·total/100), level one ulp down.
    private static func rank(_ level: Double, of total: UInt64) -> UInt64 {
        let requested = Swift.min(Swift.max(level.nextDown, 0.0), 100.0)
        return Swift.max(1, UInt64(((requested * Double(total)) / 100.0).rounded(.up)))
    }

    /// `histogram.valueAtPercentile` of each of `levels` (ascending), in one walk over the recorded values: that
    /// method walks the whole bucket array, unspecialized, once per percentile, which made a report's latency
    /// tables cost more than a million events. Same rule: the highest value equivalent to the first bucket whose
    /// cumulative count reaches ceil(level·count/100) (level one ulp down), clamped to the recorded extremes.
    private func percentiles(_ levels: Double...) -> [UInt64] {
        guard let histogram else { return [UInt64](repeating: 0, count: levels.count) }
        let targets = levels.map { Self.rank($0, of: histogram.totalCount) }
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

    /// The same from the latencies themselves: the bucket whose cumulative count first reaches rank r holds the r-th
    /// smallest latency, so its highest equivalent value is that latency's. The histogram's extremes are its largest and
    /// smallest latencies (its rule: 0 if a zero was recorded, else the smallest non-zero one).
    private mutating func exactPercentiles(_ levels: Double...) -> [UInt64] {
        guard !held.isEmpty else { return [UInt64](repeating: 0, count: levels.count) }
        let largest = Swift.min(maxValue, Self.highestTrackable)
        let smallest = Swift.min(minValue, Self.highestTrackable)
        var from = 0
        return held.withUnsafeMutableBufferPointer { a in
            levels.map { level in
                // Ranks ascend: the next is found among the latencies after this one.
                let k = Swift.min(Int(Self.rank(level, of: UInt64(a.count))), a.count) - 1
                Self.select(k, in: a, from: Swift.min(from, k))
                from = k
                return Swift.max(Swift.min(Self.empty.highestEquivalentForValue(a[k]), largest), smallest)
            }
        }
    }

    /// Puts the (k+1)-th smallest of `a[from...]` at `a[k]`, none larger before it and none smaller after: quickselect
    /// (median of three, equal values gathered apart so repeats cost nothing), and after too many rounds a sort of what
    /// is left, so that no order of latencies a crafted trace holds makes it quadratic.
    static func select(_ k: Int, in a: UnsafeMutableBufferPointer<UInt64>, from: Int) {
        var lo = from
        var hi = a.count - 1
        var rounds = 0
        while lo < hi {
            rounds += 1
            if rounds > 64 {
                var rest = UnsafeMutableBufferPointer(rebasing: a[lo...hi])
                rest.sort()
                return
            }
            let mid = lo + (hi - lo) / 2
            let x = a[lo], y = a[mid], z = a[hi]
            let pivot = Swift.max(Swift.min(x, y), Swift.min(Swift.max(x, y), z))
            // a[lo..<lt] < pivot, a[lt..<i] == pivot, a[gt+1...hi] > pivot.
            var lt = lo
            var i = lo
            var gt = hi
            while i <= gt {
                let v = a[i]
                if v < pivot {
                    a.swapAt(lt, i)
                    lt += 1
                    i += 1
                } else if v > pivot {
                    a.swapAt(i, gt)
                    gt -= 1
                } else {
                    i += 1
                }
            }
            if k < lt {
                hi = lt - 1
            } else if k > gt {
                lo = gt + 1
            } else {
                return
            }
        }
    }
}
