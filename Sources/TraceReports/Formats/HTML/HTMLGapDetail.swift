import TraceAnalysis
import TraceFormat

/// What made a trap gap, from the analysis' triggers and their phases: the requirement (state change, signal,
/// driver marker), the VMM's wake-up, its layout re-read, and the munmap / memslot delete that ended it.
enum HTMLGapDetail {
    struct Event: Equatable {
        var timeNs: UInt64
        var label: String
    }

    /// The events of the triggers that fell in the gap, in time order, then its end.
    static func events(_ g: TrapGap, _ r: AnalysisResult) -> [Event] {
        let end = g.startNs.saturatingAdd(g.durationNs)
        var out: [Event] = []
        func add(_ t: UInt64, _ label: String) {
            if !out.contains(Event(timeNs: t, label: label)) { out.append(Event(timeNs: t, label: label)) }
        }
        for t in r.triggers where t.device == g.device && t.timeNs >= g.startNs && t.timeNs <= end {
            switch t.kind {
            case "state":
                let state = g.cause.hasPrefix("state:") && t.timeNs == g.startNs ? " to " + g.cause.dropFirst(6) : ""
                add(t.timeNs, "state change\(state) (traps required)")
            case "signal": add(t.timeNs, "re-evaluate signal (eventfd written)")
            case "marker": add(t.timeNs, "driver trap.on")
            default: add(t.timeNs, "\(t.kind) trigger")
            }
            var at = t.timeNs
            if let w = t.wakeupNs {
                at = at.saturatingAdd(w)
                add(at, "VMM wake-up (eventfd read)")
            }
            if let re = t.reevaluationNs {
                add(at.saturatingAdd(re), "layout re-read (GET_REGION_INFO)")
            }
            if let l = t.latencyNs, l >= 0 {
                add(t.timeNs.saturatingAdd(UInt64(l)), "munmap / memslot delete: no longer reachable")
            }
        }
        if g.endNs == nil {
            add(end, "trace ends, gap still open")
        } else if !out.contains(where: { $0.timeNs == end }) {
            add(end, "gap closed")
        }
        return out.enumerated().sorted { ($0.element.timeNs, $0.offset) < ($1.element.timeNs, $1.offset) }.map(\.element)
    }
}
