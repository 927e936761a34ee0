import Foundation
import TestSupport
import Testing
import TraceFormat

@testable import TraceAnalysis
@testable import TraceReports

/// `report --perfetto-trace`: the bytes read back twice, with our generated types and with Perfetto's own
/// schema (PyPI's `perfetto`, through Scripts/perfetto-trace-summary.py), and checked against the
/// simulator's truth: gap slices where the gaps were planted, trigger instants, remap phases, flows that
/// pair up, slices that nest on every track, and the size bound.
@Suite struct PerfettoTraceTests {
    /// A track and an event as either reader sees them.
    struct Track: Equatable {
        var uuid: UInt64
        var parent: UInt64?
        var name: String
    }
    struct Event: Equatable {
        var ts: UInt64
        var type: String  // "begin", "end", "instant"
        var track: UInt64
        var name: String?
        var categories: [String]
        var flowIds: [UInt64]
        var terminatingFlowIds: [UInt64]
        var annotations: [String: String]
    }
    struct Decoded: Equatable {
        var tracks: [Track] = []
        var events: [Event] = []
        var sequences: Set<UInt32> = []
    }

    /// Our generated types.
    static func decode(_ bytes: [UInt8]) throws -> Decoded {
        let trace = try PerfettoTrace(serializedBytes: bytes)
        var d = Decoded()
        for p in trace.packet {
            d.sequences.insert(p.trustedPacketSequenceID)
            switch p.data {
            case .trackDescriptor(let t)?:
                d.tracks.append(Track(uuid: t.uuid, parent: t.hasParentUuid ? t.parentUuid : nil, name: t.name))
            case .trackEvent(let e)?:
                let type = e.type == .sliceBegin ? "begin" : e.type == .sliceEnd ? "end" : e.type == .instant ? "instant" : "?"
                var a: [String: String] = [:]
                for x in e.debugAnnotations {
                    switch x.value {
                    case .stringValue(let s)?: a[x.name] = s
                    case .uintValue(let v)?: a[x.name] = String(v)
                    case .intValue(let v)?: a[x.name] = String(v)
                    case .boolValue(let v)?: a[x.name] = String(v)
                    case nil: a[x.name] = ""
                    }
                }
                d.events.append(
                    Event(
                        ts: p.timestamp, type: type, track: e.trackUuid, name: e.nameField != nil ? e.name : nil, categories: e.categories,
                        flowIds: e.flowIds, terminatingFlowIds: e.terminatingFlowIds, annotations: a))
            case nil:
                Issue.record("a packet with neither a track nor an event")
            }
        }
        return d
    }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let summaryScript = repo.appendingPathComponent("Scripts/perfetto-trace-summary.py").path

    /// Perfetto's own schema, in Python; nil (with the reason printed) when the package is not installed.
    static func decodeWithPerfetto(_ bytes: [UInt8]) throws -> Decoded? {
        let path = NSTemporaryDirectory() + "vfiotrace-\(UUID().uuidString).pftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let out = try ChildProcess.run("/usr/bin/env", ["python3", summaryScript, path])
        if out.status == 3 || out.status == 127 {
            print("skipping the check with Perfetto's own schema: \(out.stderr.isEmpty ? "no python3" : out.stderr) (python3 -m pip install --target .cache/pypi perfetto)")
            return nil
        }
        #expect(out.status == 0, "\(out.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        var d = Decoded()
        func u64(_ v: Any?) -> UInt64? { (v as? NSNumber)?.uint64Value }
        for t in json["tracks"] as? [[String: Any]] ?? [] {
            d.sequences.insert(UInt32(truncatingIfNeeded: u64(t["sequence"]) ?? 0))
            d.tracks.append(Track(uuid: u64(t["uuid"]) ?? 0, parent: u64(t["parent"]), name: t["name"] as? String ?? ""))
        }
        let types = ["TYPE_SLICE_BEGIN": "begin", "TYPE_SLICE_END": "end", "TYPE_INSTANT": "instant"]
        for e in json["events"] as? [[String: Any]] ?? [] {
            d.sequences.insert(UInt32(truncatingIfNeeded: u64(e["sequence"]) ?? 0))
            var a: [String: String] = [:]
            // The script writes every annotation value as text (64-bit values would not survive a double).
            for (k, v) in e["annotations"] as? [String: String] ?? [:] { a[k] = v }
            d.events.append(
                Event(
                    ts: u64(e["ts"]) ?? 0, type: types[e["type"] as? String ?? ""] ?? "?", track: u64(e["track"]) ?? 0,
                    name: e["name"] as? String, categories: e["categories"] as? [String] ?? [],
                    flowIds: (e["flowIds"] as? [NSNumber] ?? []).map(\.uint64Value),
                    terminatingFlowIds: (e["terminatingFlowIds"] as? [NSNumber] ?? []).map(\.uint64Value), annotations: a))
        }
        return d
    }

    static func render(_ s: Scenario, seed: UInt64, events: UInt64? = nil, limit: Int = PerfettoTraceReport.defaultLimit) throws -> (
        ScenarioTruth, [UInt8], PerfettoTraceReport.Contents
    ) {
        let path = NSTemporaryDirectory() + "perfetto-trace-\(UUID().uuidString).vftrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let truth = try ScenarioSimulator.run(s, seed: seed, events: events, output: path)
        let r = try TraceAnalyzer.analyze(paths: [path])
        let (bytes, contents) = PerfettoTraceReport.render(r, states: try PerfettoReport.stateChanges(from: path), limit: limit)
        return (truth, bytes, contents)
    }

    /// What holds of any trace we write: declared tracks, one sequence, events in time order, every slice
    /// closed on its own track with nothing overlapping, every flow leaving once and arriving once.
    static func checkStructure(_ d: Decoded) {
        #expect(d.sequences == [1], "every packet on one sequence")
        let declared = Dictionary(d.tracks.map { ($0.uuid, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(declared.count == d.tracks.count, "track ids are unique")
        for t in d.tracks where t.parent != nil { #expect(declared[t.parent!] != nil, "parent of \(t.name) declared") }
        var open: [UInt64: [UInt64]] = [:]
        var last: UInt64 = 0
        var origins: [UInt64: Int] = [:]
        var ends: [UInt64: Int] = [:]
        for e in d.events {
            #expect(declared[e.track] != nil, "event on an undeclared track \(e.track)")
            #expect(e.ts >= last, "events in time order")
            #expect(e.ts <= UInt64(Int64.max), "timestamps fit trace processor's signed 64 bits")
            last = e.ts
            switch e.type {
            case "begin":
                // Lanes hold no overlapping slices: nothing may be open on the track (back-to-back is fine).
                #expect(open[e.track, default: []].isEmpty, "a slice begins on track \(e.track) while another is open")
                open[e.track, default: []].append(e.ts)
            case "end":
                let began = open[e.track]?.popLast()
                #expect(began != nil, "an end with no begin on track \(e.track)")
                #expect(e.ts >= began ?? 0)
            case "instant": break
            default: Issue.record("event type \(e.type)")
            }
            for f in e.flowIds { origins[f, default: 0] += 1 }
            // Trace processor ignores a terminating id whose flow has not begun; at equal times it takes the
            // events in file order (its sorter breaks ties by position), so the origin must come first.
            for f in e.terminatingFlowIds {
                #expect(origins[f] != nil, "flow \(f) ends before it begins")
                ends[f, default: 0] += 1
            }
        }
        let unclosed = open.values.reduce(0) { $0 + $1.count }
        #expect(unclosed == 0, "every slice ends")
        #expect(Set(origins.keys) == Set(ends.keys), "every flow leaves and arrives")
        #expect(origins.values.allSatisfy { $0 == 1 } && ends.values.allSatisfy { $0 == 1 }, "once each")
    }

    /// Slices (begin, end, begin event) of a category, paired through each track's stack.
    static func slices(_ d: Decoded, category: String) -> [(start: UInt64, end: UInt64, begin: Event)] {
        var open: [UInt64: [Event]] = [:]
        var out: [(UInt64, UInt64, Event)] = []
        for e in d.events {
            if e.type == "begin" { open[e.track, default: []].append(e) }
            if e.type == "end", let b = open[e.track]?.popLast(), b.categories == [category] { out.append((b.ts, e.ts, b)) }
        }
        return out.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    /// The device a track belongs to (its parent's name, less "device ").
    static func device(of track: UInt64, _ d: Decoded) -> String? {
        guard let parent = d.tracks.first(where: { $0.uuid == track })?.parent else { return nil }
        return d.tracks.first { $0.uuid == parent }.map { String($0.name.dropFirst("device ".count)) }
    }

    /// Gap slices, trigger instants, phases and flows against the truth (complete scenarios).
    static func checkAgainstTruth(_ d: Decoded, _ truth: ScenarioTruth) {
        checkStructure(d)
        // Gaps: one slice per planted gap, from its start to its end (or the trace's end when open).
        let gaps = slices(d, category: "gap")
        let planted = truth.gaps.sorted { ($0.startNs, $0.startNs + $0.durationNs) < ($1.startNs, $1.startNs + $1.durationNs) }
        #expect(gaps.count == planted.count)
        for (s, g) in zip(gaps, planted) {
            #expect(s.start == g.startNs)
            #expect(s.end == g.endNs ?? g.startNs + g.durationNs)
            #expect(s.begin.name == "TRAP GAP region \(g.region)")
            #expect(s.begin.annotations["cause"] == g.cause)
            #expect(s.begin.annotations["open_at_end"] == String(g.endNs == nil))
            #expect(device(of: s.begin.track, d) == g.device)
        }
        // Triggers: an instant each, at the planted time, named by kind.
        let instants = d.events.filter { $0.type == "instant" && $0.categories == ["trigger"] }
        let byTime: (RemapTrigger, RemapTrigger) -> Bool = { ($0.timeNs, $0.kind) < ($1.timeNs, $1.kind) }
        #expect(
            instants.map { "\($0.ts) \($0.name ?? "")" }.sorted() == truth.triggers.sorted(by: byTime).map { "\($0.timeNs) \($0.kind)" }.sorted())
        // Phases: each remap's phases chained from its trigger, with the planted durations.
        let resolved = truth.triggers.filter { ($0.latencyNs ?? -1) >= 0 }
        for (category, name, phase) in [
            ("remap", "wake-up", \RemapTrigger.wakeupNs), ("remap", "re-evaluation", \.reevaluationNs), ("remap", "trap effective", \.effectiveNs),
        ] {
            let got = slices(d, category: category).filter { $0.begin.name == name }.map { $0.end - $0.start }.sorted()
            #expect(got == resolved.compactMap { $0[keyPath: phase] }.sorted(), "\(name) durations")
        }
        // Flows: one per remap, from the trigger instant to the start of its last phase.
        var originTime: [UInt64: UInt64] = [:]
        var endTime: [UInt64: UInt64] = [:]
        for e in d.events {
            for f in e.flowIds { originTime[f] = e.ts }
            for f in e.terminatingFlowIds { endTime[f] = e.ts }
        }
        #expect(originTime.count == resolved.count)
        let expected = resolved.map { t -> String in
            let phases = [t.wakeupNs, t.reevaluationNs, t.effectiveNs].compactMap { $0 }
            let lastStart = t.timeNs + phases.dropLast().reduce(0, +)
            return "\(t.timeNs)->\(phases.isEmpty ? t.timeNs + UInt64(t.latencyNs!) : lastStart)"
        }
        #expect(originTime.keys.map { "\(originTime[$0]!)->\(endTime[$0] ?? 0)" }.sorted() == expected.sorted())
    }

    @Test(
        "read back with our types, every fact from the truth", arguments: [Scenario.racy, .manyDevices, .lostSignal, .v2, .safe], [1, 2] as [UInt64])
    func againstTruth(scenario: Scenario, seed: UInt64) throws {
        let (truth, bytes, contents) = try Self.render(scenario, seed: seed)
        #expect(truth.complete)
        #expect(contents.leftOut == nil)
        let d = try Self.decode(bytes)
        Self.checkAgainstTruth(d, truth)
        #expect(!d.tracks.contains { $0.name.hasPrefix("vfiotrace: size bound") }, "nothing left out, nothing said")
    }

    @Test("racy: the states in order, one track per kind under the device, findings as instants")
    func racyLayout() throws {
        let (truth, bytes, _) = try Self.render(.racy, seed: 1)
        let d = try Self.decode(bytes)
        #expect(Self.slices(d, category: "state").map { $0.begin.name ?? "" } == ["PRE_COPY", "STOP_COPY", "STOP", "RUNNING"])
        let device = try #require(truth.gaps.first?.device)
        let root = try #require(d.tracks.first { $0.name == "device \(device)" })
        #expect(root.parent == nil)
        let children = Set(d.tracks.filter { $0.parent == root.uuid }.map(\.name))
        #expect(
            children == ["migration state", "trap gaps", "triggers", "remap: wake-up", "remap: re-evaluation", "remap: trap effective", "findings"])
        let findings = d.events.filter { $0.categories == ["finding"] }.map { $0.name ?? "" }
        #expect(findings.contains("trap-gap"))
    }

    @Test("golden file: the racy scenario's trace in protobuf text format (re-record with VFIOTRACE_RECORD_GOLDEN=1)")
    func golden() throws {
        let (_, bytes, _) = try Self.render(.racy, seed: 1)
        try ReportFormatTests.golden("report-racy.perfetto-trace.txt", try PerfettoTrace(serializedBytes: bytes).textFormatString())
    }

    @Test("the same facts through Perfetto's own schema (PyPI perfetto), when it is installed")
    func perfettoSchema() throws {
        for (scenario, seed) in [(Scenario.racy, UInt64(1)), (.manyDevices, 3)] {
            let (truth, bytes, _) = try Self.render(scenario, seed: seed)
            guard let theirs = try Self.decodeWithPerfetto(bytes) else { return }
            Self.checkAgainstTruth(theirs, truth)
            #expect(theirs == (try Self.decode(bytes)), "both readers see the same trace")
        }
    }

    @Test("our .proto has Perfetto's field numbers, types and enum values (protoc and PyPI perfetto, when installed)")
    func schemaNumbers() throws {
        let proto = Self.repo.appendingPathComponent("Sources/TraceReports/Formats/PerfettoTrace").path
        let desc = NSTemporaryDirectory() + "vfiotrace-perfetto-\(UUID().uuidString).desc"
        defer { try? FileManager.default.removeItem(atPath: desc) }
        let protoc = try ChildProcess.run(
            "/usr/bin/env", ["protoc", "--proto_path=\(proto)", "--descriptor_set_out=\(desc)", "vfiotrace_perfetto.proto"])
        guard protoc.status == 0 else {
            print("skipping the schema comparison: protoc did not run (\(protoc.stderr)) (apt-get install protobuf-compiler)")
            return
        }
        let out = try ChildProcess.run("/usr/bin/env", ["python3", Self.summaryScript, "--schema", desc])
        if out.status == 3 || out.status == 127 {
            print("skipping the schema comparison: \(out.stderr) (python3 -m pip install --target .cache/pypi perfetto)")
            return
        }
        #expect(out.status == 0, "\(out.stdout)")
        #expect(out.stdout.contains(" 0 differences"))
    }

    @Test("the size bound keeps the longest gaps, the context around them, and says what it left out")
    func bound() throws {
        let limit = 20
        let (truth, bytes, contents) = try Self.render(.long, seed: 9, events: 60_000, limit: limit)
        #expect(truth.complete)
        #expect(truth.gaps.count > limit && truth.triggers.count > limit)
        let d = try Self.decode(bytes)
        Self.checkStructure(d)
        let gaps = Self.slices(d, category: "gap")
        #expect(gaps.map { $0.end - $0.start }.sorted() == truth.gaps.map(\.durationNs).sorted().suffix(limit).map { $0 })
        #expect(d.events.filter { $0.categories == ["trigger"] }.count == limit)
        #expect(Self.slices(d, category: "state").count == limit)
        // Kept triggers come from around the kept gaps first: a trigger, or its remap, within a kept gap's span.
        let spans = gaps.map { ($0.start, $0.end) }
        let around = Set(
            truth.triggers.filter { t in
                let done = t.timeNs + UInt64(max(0, t.latencyNs ?? 0))
                return spans.contains { $0.0 <= done && t.timeNs <= $0.1 }
            }.map { "\($0.timeNs) \($0.kind)" })
        let kept = d.events.filter { $0.categories == ["trigger"] }.map { "\($0.ts) \($0.name ?? "")" }
        #expect(kept.filter { around.contains($0) }.count == min(limit, around.count))
        // Said in the trace and in the contents.
        let note = try #require(d.events.first { e in d.tracks.first { $0.uuid == e.track }?.name == "vfiotrace: size bound" })
        #expect(note.annotations["gaps_total"] == String(truth.summary.gapCount))
        #expect(note.annotations["gaps_kept"] == String(limit))
        #expect(note.annotations["triggers_total"] == String(truth.summary.triggerCount))
        #expect(contents.totalGaps == Int(truth.summary.gapCount) && contents.gaps == limit)
        #expect(contents.leftOut?.contains("\(Int(truth.summary.gapCount) - limit) gaps") == true)
    }

    @Test("hostile values: extreme times and durations, control characters and huge names")
    func hostile() throws {
        var r = try AnalysisOutputTests.analyze(.safe, seed: 1)
        let huge = String(repeating: "\u{202E}x\u{1B}]0;\u{07}", count: 100_000)
        r.devices[0].device = huge
        r.gaps = [
            TrapGap(
                device: huge, region: 7, offset: .max, length: .max, startNs: .max - 5, endNs: nil, durationNs: .max, cause: huge,
                trappedAccesses: .max),
            TrapGap(device: "d\u{0}", region: 0, offset: 0, length: 1, startNs: 10, endNs: 5, durationNs: 0, cause: "", trappedAccesses: 0),
            TrapGap(device: "d\u{0}", region: 0, offset: 0, length: 1, startNs: 8, endNs: 50, durationNs: 42, cause: "", trappedAccesses: 0),
        ]
        r.triggers = [
            RemapTrigger(
                kind: huge, device: huge, timeNs: .max, latencyNs: .max, wakeupNs: .max, reevaluationNs: .max, effectiveNs: .max,
                effectiveEvidence: huge),
            RemapTrigger(
                kind: "signal", device: "d\u{0}", timeNs: 3, latencyNs: .min, wakeupNs: nil, reevaluationNs: nil, effectiveNs: nil,
                effectiveEvidence: nil),
            RemapTrigger(
                kind: "signal", device: "d\u{0}", timeNs: 3, latencyNs: 0, wakeupNs: nil, reevaluationNs: nil, effectiveNs: nil,
                effectiveEvidence: nil),
        ]
        let states = [
            PerfettoReport.StateChange(device: "d\u{0}", timeNs: 100, state: "STOP"), .init(device: "d\u{0}", timeNs: 1, state: "RUNNING"),
            .init(device: huge, timeNs: .max, state: huge),
        ]
        let (bytes, contents) = PerfettoTraceReport.render(r, states: states)
        let d = try Self.decode(bytes)
        Self.checkStructure(d)
        #expect(contents.flows == 2, "a remap at once and a huge one; the lead time has none")
        #expect(d.tracks.allSatisfy { $0.name.utf8.count <= PerfettoTraceReport.maxNameBytes + "device ".count })
        #expect(d.events.allSatisfy { ($0.name ?? "").utf8.count <= PerfettoTraceReport.maxNameBytes })
        #expect(bytes.count < 100_000, "huge strings are cut, not copied")
        #expect(Self.slices(d, category: "gap").count == 3)
        if let theirs = try Self.decodeWithPerfetto(bytes) { #expect(theirs == d) }
    }
}
