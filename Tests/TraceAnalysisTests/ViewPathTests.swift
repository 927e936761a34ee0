import Foundation
import Testing
import TraceAnalysis
import TestSupport
import TraceFormat

/// The analyzer reads files through views (`consume(EventView)`, with its fast paths for KVM_RUN, eventfd
/// traffic and region accesses); fed the same events as owned values (`consume(TraceEvent)`) it must reach
/// the very same result, on every scenario and on hostile traces (crafted chunks, damaged real traces).
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

    @Test("views in batches and owned events one by one give the same analysis on hostile traces", arguments: [3, 11] as [UInt64])
    func sameAnalysisHostile(seed: UInt64) throws {
        let dir = NSTemporaryDirectory() + "vfiotrace-views-hostile-\(seed)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var compared = 0
        for index in 0..<200 as Range<UInt64> {
            let (path, surface) = try HostileCases.make(index: index, seed: seed, directory: dir)
            defer { try? FileManager.default.removeItem(atPath: path) }
            guard [.craftedChunk, .craftedColumns, .damagedTrace].contains(surface) else { continue }
            // A case may be refused whole (not a trace): then there is nothing to compare.
            guard let same = try? HostileCases.sameAnalysisBothWays(path) else { continue }
            #expect(same, "case \(index) of seed \(seed)")
            compared += 1
        }
        #expect(compared > 50)
    }
}
