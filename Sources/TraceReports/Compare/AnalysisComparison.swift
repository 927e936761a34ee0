public import TraceAnalysis

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
    }

    public var rows: [Row]
    public var regressed: Bool { rows.contains { $0.regressed } }

    /// `maxRegression` is a fraction (0.10 = 10 %): latencies and total gap time may grow by that much;
    /// any new gap or error finding is a regression.
    public init(base: AnalysisResult, new: AnalysisResult, maxRegression: Double) {
        var rows: [Row] = []
        func add(_ metric: String, _ b: Double, _ n: Double, tolerance: Double) {
            let change = b == 0 ? (n == 0 ? 0 : .infinity) : (n - b) / b
            rows.append(Row(metric: metric, base: b, new: n, change: change, regressed: n > b * (1 + tolerance) && n > b))
        }
        add("trap gaps", Double(base.gaps.count), Double(new.gaps.count), tolerance: 0)
        add(
            "gaps still open at end", Double(base.gaps.filter { $0.endNs == nil }.count), Double(new.gaps.filter { $0.endNs == nil }.count),
            tolerance: 0)
        add(
            "total gap time (ns)", base.gaps.reduce(0.0) { $0 + Double($1.durationNs) }, new.gaps.reduce(0.0) { $0 + Double($1.durationNs) },
            tolerance: maxRegression)
        add(
            "error findings", Double(base.errors), Double(new.errors),
            tolerance: 0)
        let b = base.remapLatency, n = new.remapLatency
        if b.count > 0 || n.count > 0 {
            add("remap p50 (ns)", Double(b.p50Ns), Double(n.p50Ns), tolerance: maxRegression)
            add("remap p90 (ns)", Double(b.p90Ns), Double(n.p90Ns), tolerance: maxRegression)
            add("remap p99 (ns)", Double(b.p99Ns), Double(n.p99Ns), tolerance: maxRegression)
            add("remap max (ns)", Double(b.maxNs), Double(n.maxNs), tolerance: maxRegression)
        }
        add("never remapped", Double(b.unresolved), Double(n.unresolved), tolerance: 0)
        self.rows = rows
    }

    /// A text table: metric, base, new, change, verdict.
    public func render() -> String {
        var out = "metric                     base            new             change    \n"
        for r in rows {
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(1, n - s.count)) }
            let change = r.change.isInfinite ? "new" : (r.change == 0 ? "=" : (r.change > 0 ? "+" : "") + "\(Int((r.change * 100).rounded()))%")
            out += pad(r.metric, 27) + pad(number(r.base), 16) + pad(number(r.new), 16) + pad(change, 10) + (r.regressed ? "REGRESSION" : "ok") + "\n"
        }
        return out + (regressed ? "verdict: REGRESSION\n" : "verdict: no regression\n")
    }

    private func number(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? "\(Int64(v))" : "\(v)" }
}
