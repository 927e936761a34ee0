import ArgumentParser
import TraceAnalysis

/// What analyze and report share: the policy file and the thresholds that override it.
struct PolicyOptions: ParsableArguments {
    @Option(help: "Policy file (JSON): which states, regions and irq indices require traps, and thresholds (docs/ANALYSIS.md).")
    var policy: String?
    @Option(
        parsing: .unconditional,
        help: "Fail only for gaps longer than this, e.g. 500us; by default any gap fails. Duration: \(DurationArgument.rule).",
        transform: DurationArgument.transform)
    var maxGap: DurationArgument?
    @Option(
        parsing: .unconditional, help: "Fail when the remap latency p99 exceeds this, e.g. 1ms. Duration: \(DurationArgument.rule).",
        transform: DurationArgument.transform)
    var maxRemapP99: DurationArgument?

    /// The policy file (or the default) with the thresholds given on the command line.
    func resolved() throws -> AnalysisPolicy {
        var p = AnalysisPolicy.default
        if let path = policy {
            do { p = try AnalysisPolicy.load(path: path) } catch { throw CommandFailure("policy: \(error.description)") }
        }
        if let g = maxGap { p.maxGapNs = g.nanoseconds }
        if let l = maxRemapP99 { p.maxRemapP99Ns = l.nanoseconds }
        return p
    }
}
