import Histogram
import Testing

@testable import TraceAnalysis

/// `LatencyRecorder.summary` finds its percentiles among the latencies themselves (up to 16,384 of them), else in one
/// walk over its histogram's recorded values; either way it must give what the histogram's own `valueAtPercentile`
/// gives, percentile by percentile, also when asked again after more latencies.
@Suite struct LatencyRecorderTests {
    @Test("percentiles as valueAtPercentile gives them", arguments: [1, 2, 3, 7, 100, 1_000, 16_383, 16_384, 16_385, 20_000, 40_000], [1, 42] as [UInt64])
    func percentiles(count: Int, seed: UInt64) {
        var recorder = LatencyRecorder()
        var reference = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        var values: [UInt64] = []
        var x = seed
        for i in 0..<count {
            if i == count / 2 {
                // Asked half way (the exact latencies sorted in place, or the pending ones moved into the histogram).
                #expect(recorder.summary.count == UInt64(i))
            }
            // xorshift: latencies spread over many magnitudes, with zeros and repeats among them.
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            let v = i % 11 == 0 ? 0 : i % 5 == 0 ? values.last ?? 0 : x >> (x % 50)
            values.append(v)
            recorder.record(v)
            _ = reference.record(min(v, 3_600_000_000_000))
        }
        let lo = values.min() ?? 0
        let hi = values.max() ?? 0
        func p(_ q: Double) -> UInt64 { min(hi, max(lo, reference.valueAtPercentile(q))) }
        let s = recorder.summary
        #expect(s.count == UInt64(count))
        #expect(s.minNs == lo && s.maxNs == hi)
        #expect([s.p50Ns, s.p90Ns, s.p99Ns, s.p999Ns] == [p(50), p(90), p(99), p(99.9)])
    }

    /// The selection behind the exact percentiles: the k-th smallest, checked against a sorted copy, on orders that
    /// defeat a naive quickselect (sorted, reversed, organ pipe, all equal, few distinct, the median-of-three killer).
    @Test("selection finds the k-th smallest whatever the order", arguments: 0..<6)
    func selection(pattern: Int) {
        let n = 5_000
        var values: [UInt64] = (0..<n).map { i in
            switch pattern {
            case 0: UInt64(i)
            case 1: UInt64(n - i)
            case 2: UInt64(min(i, n - i))
            case 3: 7
            case 4: UInt64(i % 3)
            default: UInt64(i % 2 == 0 ? i : n + i)
            }
        }
        let sorted = values.sorted()
        var from = 0
        for k in [0, 1, n / 2, n * 9 / 10, n - 2, n - 1] {
            values.withUnsafeMutableBufferPointer { LatencyRecorder.select(k, in: $0, from: from) }
            #expect(values[k] == sorted[k], "k \(k)")
            #expect(values[from..<k].allSatisfy { $0 <= values[k] } && values[k...].allSatisfy { $0 >= values[k] })
            from = k
        }
        #expect(values.sorted() == sorted)
    }
}
