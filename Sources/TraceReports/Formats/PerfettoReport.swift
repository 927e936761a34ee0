public import TraceAnalysis
import TraceFormat

/// Chrome trace-event JSON (loads in ui.perfetto.dev): per device a process with tracks for the
/// migration state, trap gaps and remap phases; signals as instants with flow arrows to the remap
/// they caused.
public enum PerfettoReport {
    /// A migration state change, for the state track (collect with `stateChanges(from:)`).
    public struct StateChange: Sendable, Equatable {
        public var device: String
        public var timeNs: UInt64
        public var state: String
        public init(device: String, timeNs: UInt64, state: String) {
            self.device = device
            self.timeNs = timeNs
            self.state = state
        }
    }

    /// Successful device_state sets in a trace, in file order.
    public static func stateChanges(from path: String) throws -> [StateChange] {
        var out: [StateChange] = []
        try TraceReader(path: path).forEachEvent { e in
            if case .deviceState(let s) = e.payload, s.operation == .set, !e.failed {
                out.append(
                    StateChange(device: s.device, timeNs: e.endTime, state: MigrationStateNames.name(s.requested, protocol: s.migrationProtocol)))
            }
        }
        return out
    }

    public static func render(_ r: AnalysisResult, states: [StateChange]) -> String {
        let t0 = r.startNs ?? 0
        let end = r.endNs ?? t0
        func us(_ ns: UInt64) -> String {
            let v = ns >= t0 ? ns - t0 : 0
            let frac = String(v % 1000)
            return "\(v / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
        }
        var events: [String] = []
        func add(_ fields: [(String, String)]) {
            events.append("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        }
        func q(_ s: String) -> String { JSONText.quote(s) }
        let devices = r.devices.map(\.device)
        let tracks = [(1, "migration state"), (2, "trap gaps"), (3, "remap phases"), (4, "triggers")]
        for (i, dev) in devices.enumerated() {
            let pid = "\(i + 1)"
            add([("ph", q("M")), ("name", q("process_name")), ("pid", pid), ("tid", "0"), ("args", "{\"name\":\(q("device " + dev))}")])
            for (tid, name) in tracks {
                add([("ph", q("M")), ("name", q("thread_name")), ("pid", pid), ("tid", "\(tid)"), ("args", "{\"name\":\(q(name))}")])
            }
            // State slices: each state lasts until the next change (or the end of the trace).
            let mine = states.filter { $0.device == dev }
            for (j, s) in mine.enumerated() {
                let until = j + 1 < mine.count ? mine[j + 1].timeNs : end
                add([
                    ("ph", q("X")), ("name", q(s.state)), ("cat", q("state")), ("pid", pid), ("tid", "1"), ("ts", us(s.timeNs)),
                    ("dur", us(t0 + (until >= s.timeNs ? until - s.timeNs : 0))),
                ])
            }
            for g in r.gaps where g.device == dev {
                add([
                    ("ph", q("X")), ("name", q("TRAP GAP region \(g.region)")), ("cat", q("gap")), ("pid", pid), ("tid", "2"),
                    ("ts", us(g.startNs)), ("dur", us(t0.saturatingAdd(g.durationNs))),
                    ("args", "{\"cause\":\(q(g.cause)),\"open_at_end\":\(g.endNs == nil),\"trapped_accesses\":\(g.trappedAccesses)}"),
                ])
            }
            for (k, t) in r.triggers.enumerated() where t.device == dev {
                add([("ph", q("i")), ("name", q(t.kind)), ("cat", q("trigger")), ("pid", pid), ("tid", "4"), ("ts", us(t.timeNs)), ("s", q("t"))])
                guard let latency = t.latencyNs, latency >= 0 else { continue }
                var at = t.timeNs
                for (name, d) in [("wake-up", t.wakeupNs), ("re-evaluation", t.reevaluationNs), ("trap effective", t.effectiveNs)] {
                    guard let d else { continue }
                    add([
                        ("ph", q("X")), ("name", q(name)), ("cat", q("remap")), ("pid", pid), ("tid", "3"), ("ts", us(at)),
                        ("dur", us(t0.saturatingAdd(d))),
                    ])
                    at = at.saturatingAdd(d)
                }
                // Flow arrow from the trigger to the moment the remap took effect.
                let done = t.timeNs.saturatingAdd(UInt64(latency))
                add([("ph", q("s")), ("name", q("remap")), ("cat", q("flow")), ("id", "\(k + 1)"), ("pid", pid), ("tid", "4"), ("ts", us(t.timeNs))])
                add([
                    ("ph", q("f")), ("bp", q("e")), ("name", q("remap")), ("cat", q("flow")), ("id", "\(k + 1)"), ("pid", pid), ("tid", "3"),
                    ("ts", us(done)),
                ])
            }
        }
        return "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n" + events.joined(separator: ",\n") + "\n]}\n"
    }
}
