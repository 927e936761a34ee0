import Foundation
import Testing
import TraceFormat

@testable import TraceAnalysis
@testable import TraceReports

/// Markdown, JUnit and OpenMetrics reports: golden files from simulated scenarios (re-record with
/// VFIOTRACE_RECORD_GOLDEN=1), well-formed XML checked with xmllint, escaping of hostile device names.
@Suite struct ReportFormatTests {
    static func golden(_ name: String, _ text: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name)")
        if ProcessInfo.processInfo.environment["VFIOTRACE_RECORD_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        #expect(text == (try String(contentsOf: url, encoding: .utf8)), "\(name) differs from its golden file")
    }

    @Test("markdown, junit and openmetrics match their golden files", arguments: [Scenario.racy, .manyDevices, .lostSignal])
    func goldens(scenario: Scenario) throws {
        let r = try AnalysisOutputTests.analyze(scenario, seed: 1)
        try Self.golden("report-\(scenario.rawValue).md", MarkdownReport.render(r))
        try Self.golden("report-\(scenario.rawValue).junit.xml", JUnitReport.render(r))
        try Self.golden("report-\(scenario.rawValue).om.txt", OpenMetricsReport.render(r))
    }

    @Test("JUnit XML is well-formed per xmllint and fails exactly the checks with errors")
    func junitWellFormed() throws {
        let r = try AnalysisOutputTests.analyze(.racy, seed: 2)
        let xml = JUnitReport.render(r)
        #expect(xml.contains("name=\"trap gaps\""))
        // racy: one gap (a failure), protocol and latency fine, trace fine.
        #expect(xml.components(separatedBy: "<failure").count - 1 == 1)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/xmllint") else {
            print("skipping the xmllint check: xmllint not installed")
            return
        }
        let path = NSTemporaryDirectory() + "junit-\(UUID().uuidString).xml"
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/xmllint")
        p.arguments = ["--noout", path]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test("device names and messages are escaped in every format")
    func escaping() {
        let nasty = "dev<1>&\"|*`x\n"
        #expect(!JUnitReport.xml(nasty).contains("<1>"))
        #expect(JUnitReport.xml(nasty) == "dev&lt;1&gt;&amp;&quot;|*`x&#10;")
        #expect(MarkdownReport.cell(nasty) == "dev&lt;1&gt;\\&\"\\|\\*\\`x ")
        #expect(OpenMetricsReport.escape(nasty) == "dev<1>&\\\"|*`x\\n")
    }

    @Test("OpenMetrics histogram buckets are cumulative and end in +Inf = count")
    func histogramShape() throws {
        let r = try AnalysisOutputTests.analyze(.manyDevices, seed: 4)
        let text = OpenMetricsReport.render(r)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("vfiotrace_remap_latency_seconds_bucket{device=\"0000:00:05.0\"") }
        let counts = lines.map { Int($0.split(separator: " ").last!)! }
        #expect(counts == counts.sorted())
        let planted = r.triggers.filter { $0.device == "0000:00:05.0" && ($0.latencyNs ?? -1) >= 0 }.count
        #expect(counts.last == planted)
        #expect(text.hasSuffix("# EOF\n"))
    }
}

/// `compare`: regressions are judged against the tolerance; hand-made results.
@Suite struct ComparisonTests {
    func result(gapNs: [UInt64], latencies: [UInt64]) throws -> AnalysisResult {
        // Build through the analyzer's JSON shape so the test does not depend on internals.
        var r = try AnalysisOutputTests.analyze(.safe, seed: 1)
        r.gaps = gapNs.map {
            TrapGap(device: "d", region: 0, offset: 0, length: 1, startNs: 0, endNs: $0, durationNs: $0, cause: "state:PRE_COPY", trappedAccesses: 0)
        }
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
        var remap = json["remapLatency"] as! [String: Any]
        let sorted = latencies.sorted()
        remap["count"] = sorted.count
        remap["p50Ns"] = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        remap["p90Ns"] = sorted.last ?? 0
        remap["p99Ns"] = sorted.last ?? 0
        remap["maxNs"] = sorted.last ?? 0
        json["remapLatency"] = remap
        return try JSONDecoder().decode(AnalysisResult.self, from: JSONSerialization.data(withJSONObject: json))
    }

    @Test("within tolerance passes, beyond it regresses, a new gap always regresses")
    func tolerance() throws {
        let base = try result(gapNs: [1000], latencies: [100, 200, 300])
        let slightlySlower = try result(gapNs: [1050], latencies: [100, 210, 330])
        #expect(!AnalysisComparison(base: base, new: slightlySlower, maxRegression: 0.10).regressed)
        let muchSlower = try result(gapNs: [1000], latencies: [100, 200, 400])
        let c = AnalysisComparison(base: base, new: muchSlower, maxRegression: 0.10)
        #expect(c.regressed)
        #expect(c.rows.filter(\.regressed).map(\.metric) == ["remap p90", "remap p99", "remap max"])
        let moreGaps = try result(gapNs: [10, 10], latencies: [100, 200, 300])
        #expect(AnalysisComparison(base: base, new: moreGaps, maxRegression: 0.5).rows.first { $0.metric == "trap gaps" }?.regressed == true)
    }
}

/// Perfetto / Chrome trace-event JSON: valid JSON whose gap slice sits exactly where the truth says.
@Suite struct PerfettoReportTests {
    @Test("the gap slice starts and lasts as planted; remap phases chain; golden file")
    func racy() throws {
        let path = NSTemporaryDirectory() + "perfetto-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let truth = try ScenarioSimulator.run(.racy, seed: 1, output: path)
        var r = try TraceAnalyzer.analyze(paths: [path])
        r.files = ["racy.vftrace"]
        let text = PerfettoReport.render(r, states: try PerfettoReport.stateChanges(from: path))
        let json = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let events = try #require(json["traceEvents"] as? [[String: Any]])
        let gap = try #require(events.first { ($0["name"] as? String)?.hasPrefix("TRAP GAP") == true })
        let planted = try #require(truth.gaps.first)
        let t0 = try #require(r.startNs)
        // Trace-event times are microseconds from the trace start.
        #expect(abs((gap["ts"] as! Double) - Double(planted.startNs - t0) / 1000) < 0.001)
        #expect(abs((gap["dur"] as! Double) - Double(planted.durationNs) / 1000) < 0.001)
        let states = events.filter { $0["cat"] as? String == "state" }.map { $0["name"] as! String }
        #expect(states == ["PRE_COPY", "STOP_COPY", "STOP", "RUNNING"])
        #expect(events.filter { $0["ph"] as? String == "s" }.count == truth.triggers.count)
        try ReportFormatTests.golden("report-racy.perfetto.json", text)
    }
}
