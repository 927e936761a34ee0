import Histogram
import Testing

@testable import TraceAnalysis

/// `LatencyRecorder.summary` finds its percentiles in one walk over the recorded values; it must give what the
/// histogram's own `valueAtPercentile` gives, percentile by percentile.
@Suite struct LatencyRecorderTests {
    @Test("percentiles as valueAtPercentile gives them", arguments: [1, 2, 3, 7, 100, 1_000, 20_000], [1, 42] as [UInt64])
    func percentiles(count: Int, seed: UInt64) {
        var recorder = LatencyRecorder()
        var reference = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        var values: [UInt64] = []
        var x = seed
        for i in 0..<count {
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
}
