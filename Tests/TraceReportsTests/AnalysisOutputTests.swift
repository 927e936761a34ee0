import Foundation
import Testing
import TraceAnalysis
import TraceFormat

@testable import TraceReports

/// The text and JSON renderings of an analysis: golden files for the text (re-record with
/// VFIOTRACE_RECORD_GOLDEN=1), and the streamed JSON decoding back to the very same result.
@Suite struct AnalysisOutputTests {
    static func analyze(_ s: Scenario, seed: UInt64) throws -> AnalysisResult {
        let path = NSTemporaryDirectory() + "vfiotrace-report-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try ScenarioSimulator.run(s, seed: seed, output: path)
        var r = try TraceAnalyzer.analyze(paths: [path])
        r.files = ["\(s.rawValue).vftrace"]  // stable across runs
        return r
    }

    @Test("text summary matches its golden file", arguments: [Scenario.racy, .safe, .slowUserspace, .v2])
    func textGolden(scenario: Scenario) throws {
        let text = AnalysisText.render(try Self.analyze(scenario, seed: 1))
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/analysis-\(scenario.rawValue).txt")
        if ProcessInfo.processInfo.environment["VFIOTRACE_RECORD_GOLDEN"] == "1" {
            try text.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(text == expected)
    }

    @Test("streamed JSON decodes to the same result as the analyzer produced", arguments: [Scenario.manyDevices, .lostSignal, .v1])
    func jsonRoundTrip(scenario: Scenario) throws {
        let r = try Self.analyze(scenario, seed: 3)
        for pretty in [true, false] {
            var text = ""
            try AnalysisJSON.write(r, pretty: pretty) { text += $0 }
            let back = try JSONDecoder().decode(AnalysisResult.self, from: Data(text.utf8))
            #expect(back == r)
        }
    }
}
