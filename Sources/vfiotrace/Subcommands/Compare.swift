import ArgumentParser
import Foundation
import TraceAnalysis
import TraceReports

/// `vfiotrace compare BASE.json NEW.json`: regressions between two `analyze --format json` results.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two analyses (analyze --format json) and fail on latency or gap regressions.",
        discussion: """
            Example:
              vfiotrace analyze --format json base.vftrace > base.json
              vfiotrace analyze --format json new.vftrace > new.json
              vfiotrace compare base.json new.json --max-regression 10%

            Exit status: 0 no regression, 1 regression, 2 unreadable input or usage error.
            """)

    @Argument(help: "The baseline analysis (JSON).") var base: String
    @Argument(help: "The new analysis (JSON).") var new: String
    @Option(help: "Allowed growth of latencies and total gap time, e.g. 10% or 0.1.") var maxRegression: String = "10%"
    @OptionGroup var output: OutputOption

    func run() throws {
        let text = maxRegression.hasSuffix("%") ? String(maxRegression.dropLast()) : maxRegression
        guard let value = Double(text), value >= 0 else {
            throw CommandFailure("--max-regression: expected a percentage like 10% or a fraction like 0.1, got '\(maxRegression)'")
        }
        let fraction = maxRegression.hasSuffix("%") ? value / 100 : value
        func load(_ path: String) throws -> AnalysisResult {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CommandFailure("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            do { return try JSONDecoder().decode(AnalysisResult.self, from: data) } catch {
                // One line saying why, not the decoder's dump.
                let why: String
                switch error {
                case DecodingError.keyNotFound(let key, _): why = "it has no \"\(key.stringValue)\""
                case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
                    why = "\"\(c.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type"
                default: why = "it is not JSON"
                }
                throw CommandFailure("\(path): not an analysis (\(why)); write one with `vfiotrace analyze --format json FILE > \(path)`")
            }
        }
        let comparison = AnalysisComparison(base: try load(base), new: try load(new), maxRegression: fraction)
        let out = try output.stream()
        out.write(comparison.render())
        try out.finish()
        if comparison.regressed { terminate(1) }
    }
}
