import ArgumentParser
import Foundation
import TraceAnalysis
import TraceFormat
import TraceReports

/// `vfiotrace report FILE…`: the analysis written as HTML, Markdown, JUnit XML, JSON, OpenMetrics and Perfetto files.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the analysis of one or more traces as HTML, Markdown, JUnit XML, JSON, OpenMetrics and/or Perfetto files.",
        discussion: """
            Exit status as for analyze: \(verdictExitCodes)
            Example: vfiotrace report mig.vftrace --html report.html --junit junit.xml --markdown summary.md
            """)

    @Argument(help: "Trace files (.vftrace).") var files: [String]
    @Option(
        help:
            "Self-contained HTML page: overview and per-device timelines with a time axis, gaps longest first, latency histogram, findings (size bounded at any trace length)."
    ) var html: String?
    @Option(help: "Markdown summary (for CI step summaries).") var markdown: String?
    @Option(help: "JUnit XML: one test case per check per device.") var junit: String?
    @Option(help: "The analysis as JSON (same as analyze --format json).") var json: String?
    @Option(help: "OpenMetrics text of the latency histograms and gap totals.") var openmetrics: String?
    @Option(help: "Chrome trace-event JSON for ui.perfetto.dev: state, gap and remap tracks per device.") var perfetto: String?
    @Option(
        help:
            "Perfetto's native protobuf trace: per device, tracks for the state, gaps, triggers and each remap phase, flows from trigger to remap; size bounded (docs/PERFETTO.md)."
    ) var perfettoTrace: String?
    @OptionGroup var policyOptions: PolicyOptions

    func validate() throws {
        guard html != nil || markdown != nil || junit != nil || json != nil || openmetrics != nil || perfetto != nil || perfettoTrace != nil
        else {
            throw ValidationError("name at least one output: --html, --markdown, --junit, --json, --openmetrics, --perfetto or --perfetto-trace")
        }
    }

    func run() throws {
        let p = try policyOptions.resolved()
        // The HTML timeline's bands (state, reachable, trap required) are collected as the analysis streams, in bounded memory.
        let bands = html != nil ? TimelineBands() : nil
        let progress = ProgressLine()
        let show = { (path: String, fraction: Double) in progress.show("analyzing", path, fraction: fraction) }
        let result =
            try bands.map { try TraceAnalyzer.analyze(paths: files, policy: p, bands: $0, progress: show) }
            ?? TraceAnalyzer.analyze(paths: files, policy: p, progress: show)
        progress.clear()
        func save(_ path: String?, _ text: () throws -> String) throws {
            guard let path else { return }
            // The same words as every other output: what, where and the errno's text.
            let out = try FileHandleStream.file(path)
            out.write(try text())
            try out.finish()
        }
        try save(markdown) { MarkdownReport.render(result) }
        try save(junit) { JUnitReport.render(result) }
        try save(openmetrics) { OpenMetricsReport.render(result) }
        let states = perfetto != nil || perfettoTrace != nil ? try files.flatMap { try PerfettoReport.stateChanges(from: $0) } : []
        try save(perfetto) { PerfettoReport.render(result, states: states) }
        if let perfettoTrace {
            let (bytes, contents) = PerfettoTraceReport.render(result, states: states)
            let out = try FileHandleStream.file(perfettoTrace)
            out.write(bytes: bytes)
            try out.finish()
            if let leftOut = contents.leftOut {
                FileHandleStream.standardError.write(
                    "vfiotrace: \(perfettoTrace): kept \(contents.gaps) gaps, \(contents.states) state intervals and \(contents.triggers) triggers; left out \(leftOut) (size bound)\n"
                )
            }
        }
        if let bands { try save(html) { HTMLReport.render(result, bands: bands) } }
        try save(json) {
            var text = ""
            try AnalysisJSON.write(result) { text += $0 }
            return text
        }
        FileHandleStream.standardError.write(
            "vfiotrace: \(result.verdict.uppercased()): \(AnalysisText.count(result.gaps.count, "trap gap")), "
                + "\(AnalysisText.count(result.errors, "error"))\n")
        terminate(verdictExitCode(result))
    }
}
