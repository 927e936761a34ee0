import Foundation
import Testing
import TraceAnalysis
import TraceFormat

/// The analyzer reads files through views (`consume(EventView)`, with its fast paths for KVM_RUN, eventfd
/// traffic and region accesses); fed the same events as owned values (`consume(TraceEvent)`) it must reach
/// the very same result, on every scenario and on hostile random events.
@Suite struct ViewPathTests {
    static func analyzeOwned(_ path: String) throws -> AnalysisResult {
        let a = try TraceAnalyzer()
        let r = try TraceReader(path: path)
        while try r.nextChunk(visit: { a.consume($0) }) != nil {}
        a.endFile(cut: !r.isIntact)
        return a.finish(files: [path])
    }

    @Test("views and owned events give the same analysis", arguments: Scenario.allCases, [4, 9] as [UInt64])
    func sameAnalysis(scenario: Scenario, seed: UInt64) throws {
        let path = NSTemporaryDirectory() + "vfiotrace-views-\(scenario.rawValue)-\(seed)-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Background noise (KVM_RUN, eventfd traffic, region accesses) so the fast paths carry most events.
        let truth = try ScenarioSimulator.run(scenario, seed: seed, events: 40_000, output: path)
        let viaViews = try TraceAnalyzer.analyze(paths: [path])
        let viaOwned = try Self.analyzeOwned(path)
        #expect(viaViews == viaOwned)
        // And both found what the simulator planted (the count of its gaps), so neither is trivially empty.
        #expect(viaViews.gaps.count == truth.gaps.count)
    }
}
