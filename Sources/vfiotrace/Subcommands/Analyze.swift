import ArgumentParser
import Foundation
import TraceAnalysis
import TraceFormat
import TraceReports

/// `vfiotrace analyze FILE…`: trap gaps, remap latency and protocol findings, with CI exit codes.
struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Find trap gaps and measure remap latency in one or more traces.",
        discussion: """
            Examples:
              vfiotrace analyze mig.vftrace
              vfiotrace analyze --max-gap 500us --format json mig.vftrace

            A trap gap is an interval during which a device range must be trapped (its migration state, a \
            driver's request or a re-evaluate signal says so) while the guest can still reach it directly. Remap \
            latency runs from what required the traps to the VMM making the range unreachable, in three phases: \
            wake-up (until the VMM read the signal), re-evaluation (until it re-read the layout) and effective \
            (until its unmap or memslot change took the range away). Definitions: docs/ANALYSIS.md.

            Several files are analyzed one after another, each with its own process state, into one report; \
            use `vfiotrace merge` first to correlate files from different sources on one timeline.

            Exit status: \(verdictExitCodes)
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Trace files (.vftrace).") var files: [String]
    @OptionGroup var policyOptions: PolicyOptions
    @Option(help: "Output format: text or json.") var format: Format = .text
    @OptionGroup var output: OutputOption
    @Flag(help: "Add the meaning of each term of the summary (text format).") var explain = false

    func run() throws {
        let p = try policyOptions.resolved()
        let progress = ProgressLine()
        let result = try TraceAnalyzer.analyze(paths: files, policy: p) { progress.show("analyzing", $0, fraction: $1) }
        progress.clear()
        let out = try output.stream()
        switch format {
        case .text:
            out.write(AnalysisText.render(result, colour: output.output == nil && Colour.enabled(for: out)))
            if explain { out.write("\n" + AnalysisText.glossary) }
        case .json:
            try AnalysisJSON.write(result) { out.write($0) }
        }
        try out.finish()
        terminate(verdictExitCode(result))
    }
}
