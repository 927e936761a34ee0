import Testing
import TraceFormat

/// The clock pair a recording maps its times to other logs by (docs/IMPORT.md, "Error bound").
@Suite struct ClockSampleTests {
    @Test("a pair's monotonic time lies between reads taken before and after it, its realtime too")
    func bracketed() {
        for _ in 0..<100 {
            let realBefore = MonotonicClock.realtimeNow()
            let before = MonotonicClock.now()
            let pair = ClockSample.now()
            let after = MonotonicClock.now()
            let realAfter = MonotonicClock.realtimeNow()
            #expect(before <= pair.monotonicNs && pair.monotonicNs <= after, "\(before) \(pair.monotonicNs) \(after)")
            #expect(realBefore <= pair.realtimeNs && pair.realtimeNs <= realAfter, "\(realBefore) \(pair.realtimeNs) \(realAfter)")
        }
    }
}
