import ArgumentParser
import Foundation
import TraceAnalysis
import TraceFormat
import TraceReports

/// `vfiotrace analyze FILE…`: trap gaps, remap latency and protocol findings, with CI exit codes.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find trap gaps and measure remap latency in one or more traces.",
        discussion: """
            Exit status: \(verdictExitCodes)
            Several files are analyzed one after another, each with its own process state, into one report;
            use `vfiotrace merge` first to correlate files from different sources on one timeline.
            Definitions: docs/ANALYSIS.md.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Trace files (.vftrace).") var files: [String]
    @Option(help: "Policy file (JSON): which states, regions and irq indices require traps, and thresholds.") var policy: String?
    @Option(help: "Fail only for gaps longer than this (e.g. 500us, 2ms); by default any gap fails.") var maxGap: DurationArgument?
    @Option(help: "Fail when the remap latency p99 exceeds this (e.g. 1ms).") var maxRemapP99: DurationArgument?
    @Option(help: "Output format: text or json.") var format: Format = .text

    func run() throws {
        var p = AnalysisPolicy.default
        if let path = policy {
            do { p = try AnalysisPolicy.load(path: path) } catch { throw CommandFailure("policy: \(error.description)") }
        }
        if let g = maxGap { p.maxGapNs = g.nanoseconds }
        if let l = maxRemapP99 { p.maxRemapP99Ns = l.nanoseconds }
        let err = FileHandleStream.standardError
        let showProgress = err.isTerminal
        let result = try TraceAnalyzer.analyze(paths: files, policy: p) { path, fraction in
            if showProgress { err.write("\ranalyzing \(path): \(Int(fraction * 100))%") }
        }
        if showProgress { err.write("\r\u{1B}[K") }
        let out = FileHandleStream.standardOutput
        switch format {
        case .text:
            out.write(AnalysisText.render(result))
        case .json:
            try AnalysisJSON.write(result) { out.write($0) }
        }
        out.flush()
        terminate(verdictExitCode(result))
    }
}
