public import TraceAnalysis
import TraceFormat

/// Latency and gap regressions between two analyses (for CI: `vfiotrace compare BASE.json NEW.json`).
public struct AnalysisComparison: Sendable {
    /// One compared figure.
    public struct Row: Sendable, Equatable {
        public var metric: String
        public var base: Double
        public var new: Double
        /// Relative change (new − base) / base; +inf when base is 0 and new is not.
        public var change: Double
        public var regressed: Bool
        /// The figures are nanoseconds (shown in human units); else counts.
        public var isDuration = false
    }

    public var rows: [Row]
    public var regressed: Bool { rows.contains { $0.regressed } }

    /// `maxRegression` is a fraction (0.10 = 10 %): latencies and total gap time may grow by that much;
    /// any new gap or error finding is a regression.
    public init(base: AnalysisResult, new: AnalysisResult, maxRegression: Double) {
        var rows: [Row] = []
        func add(_ metric: String, _ b: Double, _ n: Double, tolerance: Double) {
            let change = b == 0 ? (n == 0 ? 0 : .infinity) : (n - b) / b
            let durations: Set<String> = ["total gap time", "remap p50", "remap p90", "remap p99", "remap max"]
            rows.append(
                Row(
                    metric: metric, base: b, new: n, change: change, regressed: n > b * (1 + tolerance) && n > b,
                    isDuration: durations.contains(metric)))
        }
        add("trap gaps", Double(base.gaps.count), Double(new.gaps.count), tolerance: 0)
        add(
            "gaps still open at end", Double(base.gaps.filter { $0.endNs == nil }.count), Double(new.gaps.filter { $0.endNs == nil }.count),
            tolerance: 0)
        add(
            "total gap time", base.gaps.reduce(0.0) { $0 + Double($1.durationNs) }, new.gaps.reduce(0.0) { $0 + Double($1.durationNs) },
            tolerance: maxRegression)
        add(
            "error findings", Double(base.errors), Double(new.errors),
            tolerance: 0)
        let b = base.remapLatency, n = new.remapLatency
        if b.count > 0 || n.count > 0 {
            add("remap p50", Double(b.p50Ns), Double(n.p50Ns), tolerance: maxRegression)
            add("remap p90", Double(b.p90Ns), Double(n.p90Ns), tolerance: maxRegression)
            add("remap p99", Double(b.p99Ns), Double(n.p99Ns), tolerance: maxRegression)
            add("remap max", Double(b.maxNs), Double(n.maxNs), tolerance: maxRegression)
        }
        add("never remapped", Double(b.unresolved), Double(n.unresolved), tolerance: 0)
        self.rows = rows
    }

    /// A text table: metric, base, new, change, verdict.
    public func render() -> String {
        var out = "metric                     base            new             change    \n"
        for r in rows {
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(1, n - s.count)) }
            // A change past ±10^12 % is shown as such (Int() of it would trap).
            let percent = (r.change * 100).rounded()
            let change =
                r.change.isInfinite
                ? "new" : r.change == 0 ? "=" : (r.change > 0 ? "+" : "") + (abs(percent) < 1e12 ? "\(Int64(percent))%" : "\(percent)%")
            let shown = { (v: Double) in r.isDuration && v >= 0 && v < 1.8e19 ? DurationText.human(UInt64(v)) : number(v) }
            out += pad(r.metric, 27) + pad(shown(r.base), 16) + pad(shown(r.new), 16) + pad(change, 10) + (r.regressed ? "REGRESSION" : "ok") + "\n"
        }
        return out + (regressed ? "verdict: REGRESSION\n" : "verdict: no regression\n")
    }

    private func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? "\(Int64(v))" : "\(v)" }
}
