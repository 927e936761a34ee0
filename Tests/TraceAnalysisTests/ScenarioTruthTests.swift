import Foundation
import Testing
import TraceAnalysis
import TraceFormat

/// The analyzer finds exactly what the simulator planted: every gap, trigger latency and phase, restore,
/// and the findings each scenario is built to provoke. Expected values come from the truth file.
@Suite struct ScenarioTruthTests {
    static func simulate(_ s: Scenario, seed: UInt64, events: UInt64? = nil) throws -> (ScenarioTruth, AnalysisResult) {
        let path = NSTemporaryDirectory() + "vfiotrace-\(s.rawValue)-\(seed)-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let truth = try ScenarioSimulator.run(s, seed: seed, events: events, output: path)
        // The truth file round-trips through JSON exactly as `simulate` writes it.
        let decoded = try JSONDecoder().decode(ScenarioTruth.self, from: JSONEncoder().encode(truth))
        #expect(decoded == truth)
        return (truth, try TraceAnalyzer.analyze(paths: [path]))
    }

    static let scenarios: [Scenario] = [.safe, .racy, .lostSignal, .slowUserspace, .v1, .v2, .manyDevices]

    @Test(
        "gaps, trigger latencies and phases, and restores match the planted truth",
        arguments: scenarios, [1, 2, 3, 77] as [UInt64])
    func matchesTruth(scenario: Scenario, seed: UInt64) throws {
        let (truth, result) = try Self.simulate(scenario, seed: seed)
        #expect(truth.complete)
        let byStart: (TrapGap, TrapGap) -> Bool = { ($0.startNs, $0.device) < ($1.startNs, $1.device) }
        #expect(result.gaps.sorted(by: byStart) == truth.gaps.sorted(by: byStart))
        let byTime: (RemapTrigger, RemapTrigger) -> Bool = { ($0.timeNs, $0.device, $0.kind) < ($1.timeNs, $1.device, $1.kind) }
        #expect(result.triggers.sorted(by: byTime) == truth.triggers.sorted(by: byTime))
        #expect(result.restores.sorted { $0.timeNs < $1.timeNs } == truth.restores.sorted { $0.timeNs < $1.timeNs })
        #expect(result.events == truth.events)

        // Findings the scenario provokes are reported at the planted time; no other errors appear.
        let reported = Set(result.findings.filter { $0.kind != .trapGap }.map { "\($0.kind.rawValue)|\($0.device ?? "")|\($0.timeNs ?? 0)" })
        let planted = Set(truth.findings.map { "\($0.kind)|\($0.device)|\($0.timeNs ?? 0)" })
        #expect(reported == planted)
        #expect(result.passed == (truth.gaps.isEmpty && truth.findings.isEmpty))
    }

    @Test("latency statistics agree with the planted per-trigger latencies", arguments: [Scenario.manyDevices, .racy], [5, 6] as [UInt64])
    func statistics(scenario: Scenario, seed: UInt64) throws {
        let (truth, result) = try Self.simulate(scenario, seed: seed)
        let planted = truth.triggers.compactMap(\.latencyNs).filter { $0 >= 0 }.map { UInt64($0) }.sorted()
        let r = result.remapLatency
        #expect(r.count == UInt64(planted.count))
        #expect(r.minNs == planted.first)
        #expect(r.maxNs == planted.last)
        // Percentiles come from an HDR histogram with 3 significant digits.
        let nearestRankP50 = planted[Int((0.5 * Double(planted.count)).rounded(.up)) - 1]
        #expect(abs(Double(r.p50Ns) - Double(nearestRankP50)) <= Double(nearestRankP50) * 0.001 + 1)
        #expect(abs(r.meanNs - Double(planted.reduce(0, +)) / Double(planted.count)) < 1)
    }

    @Test("the long scenario's totals match, with background noise and mixed protocols")
    func longScenario() throws {
        let (truth, result) = try Self.simulate(.long, seed: 9, events: 60_000)
        #expect(truth.events >= 60_000)
        #expect(result.events == truth.events)
        #expect(UInt64(result.gaps.count) == truth.summary.gapCount)
        #expect(result.gaps.reduce(0) { $0 + $1.durationNs } == truth.summary.gapTotalNs)
        #expect(result.remapLatency.count == truth.summary.resolvedTriggers)
        #expect(result.remapLatency.leadTime.count == truth.summary.leadCount)
        #expect(result.restoreLatency.count == truth.summary.restoreCount)
        #expect(truth.summary.gapCount > 50, "the long run plants many racy cycles")
        #expect(truth.summary.leadCount > 20, "and many safe ones")
    }

    @Test(
        "timeline spans: every planted gap lies where a reachable span and a trap-required span overlap, and ends the reachable one",
        arguments: [Scenario.racy, .safe, .v1, .manyDevices], [1, 2] as [UInt64])
    func spans(scenario: Scenario, seed: UInt64) throws {
        let path = NSTemporaryDirectory() + "vfiotrace-spans-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let truth = try ScenarioSimulator.run(scenario, seed: seed, output: path)
        let (result, spans) = try TraceAnalyzer.analyzeWithSpans(paths: [path])
        #expect(result == (try TraceAnalyzer.analyze(paths: [path])), "collecting spans changes nothing else")
        func covering(_ kind: DeviceSpan.Kind, _ g: TrapGap) -> DeviceSpan? {
            let end = g.endNs ?? UInt64.max
            return spans.first { $0.kind == kind && $0.device == g.device && $0.startNs <= g.startNs && ($0.endNs ?? UInt64.max) >= end }
        }
        for g in truth.gaps {
            let reach = try #require(covering(.reachable, g), "no reachable span around \(g)")
            #expect(reach.endNs == g.endNs, "the gap closes when the VMM makes the device unreachable")
            let required = try #require(covering(.trapRequired, g), "no trap-required span around \(g)")
            #expect(required.startNs == g.startNs, "the gap opens when traps become required")
        }
        // Spans of one kind never overlap on one device.
        for kind in [DeviceSpan.Kind.reachable, .trapRequired] {
            for (device, list) in Dictionary(grouping: spans.filter { $0.kind == kind }, by: \.device) {
                for (a, b) in zip(list, list.dropFirst()) { #expect((a.endNs ?? .max) <= b.startNs, "\(device) \(kind)") }
            }
        }
        if truth.gaps.isEmpty { #expect(spans.contains { $0.kind == .trapRequired }, "the safe protocol still needs traps") }
    }

    @Test("the same seed writes the same trace")
    func deterministic() throws {
        let (a, _) = try Self.simulate(.manyDevices, seed: 42)
        let (b, _) = try Self.simulate(.manyDevices, seed: 42)
        #expect(a == b)
    }
}
