public import TraceAnalysis

/// Perfetto's native protobuf trace (opens in ui.perfetto.dev and trace processor): per device a track
/// with child tracks for the migration state, trap gaps, triggers, each remap phase and findings; a flow
/// from each trigger to the remap phase that ended the exposure. Timestamps are the trace's own
/// nanoseconds. Bounded at any trace length: at most `defaultLimit` gaps, state intervals and triggers,
/// the ones worth looking at first, and the trace says what it left out.
public enum PerfettoTraceReport {
    /// Most gaps, state intervals and triggers (each) written by default.
    public static let defaultLimit = 10_000
    /// Longest name or text written, in UTF-8 bytes (a hostile trace's device names and markers are cut there).
    static let maxNameBytes = 256

    /// How many of each kind the trace holds, against how many the analysis had.
    public struct Contents: Sendable, Equatable {
        public var gaps = 0, totalGaps = 0
        public var states = 0, totalStates = 0
        public var triggers = 0, totalTriggers = 0
        public var findings = 0
        public var flows = 0

        /// What the bound left out, in words ("1690 gaps, 28838 triggers"); nil when nothing was.
        public var leftOut: String? {
            let parts = [(totalGaps - gaps, "gaps"), (totalStates - states, "state intervals"), (totalTriggers - triggers, "triggers")]
                .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
            return parts.isEmpty ? nil : parts.joined(separator: ", ")
        }
    }

    /// The trace's bytes (a `perfetto.protos.Trace`) and what they hold.
    public static func render(
        _ r: AnalysisResult, states: [PerfettoReport.StateChange], limit: Int = defaultLimit
    ) -> (bytes: [UInt8], contents: Contents) {
        var b = PerfettoTraceBuilder(result: r, states: states, limit: max(0, limit))
        return b.build()
    }
}

/// Selects what fits the bound, lays slices out on non-overlapping tracks and writes the packets.
struct PerfettoTraceBuilder {
    /// The child tracks of a device, in display order.
    enum Kind: Int, CaseIterable {
        case state, gap, trigger, wakeup, reevaluation, effective, finding
        var trackName: String {
            switch self {
            case .state: "migration state"
            case .gap: "trap gaps"
            case .trigger: "triggers"
            case .wakeup: "remap: wake-up"
            case .reevaluation: "remap: re-evaluation"
            case .effective: "remap: trap effective"
            case .finding: "findings"
            }
        }
        var category: String {
            switch self {
            case .state: "state"
            case .gap: "gap"
            case .trigger: "trigger"
            case .wakeup, .reevaluation, .effective: "remap"
            case .finding: "finding"
            }
        }
    }

    /// One slice (end set) or instant (end nil), before it is placed on a track.
    struct Item {
        var device: Int
        var kind: Kind
        var start: UInt64
        var end: UInt64?
        var name: String
        var annotations: [PerfettoDebugAnnotation] = []
        var flowOut: UInt64? = nil
        var flowIn: UInt64? = nil
    }

    let result: AnalysisResult
    let states: [PerfettoReport.StateChange]
    let limit: Int
    var devices: [String] = []
    var deviceIndex: [String: Int] = [:]
    var items: [Item] = []
    var contents = PerfettoTraceReport.Contents()

    init(result: AnalysisResult, states: [PerfettoReport.StateChange], limit: Int) {
        self.result = result
        self.states = states
        self.limit = limit
    }

    /// Perfetto's timestamps are signed 64-bit inside trace processor: a hostile trace's later times are held there.
    static func clamp(_ ns: UInt64) -> UInt64 { min(ns, UInt64(Int64.max)) }

    mutating func device(_ name: String) -> Int {
        if let i = deviceIndex[name] { return i }
        devices.append(name)
        deviceIndex[name] = devices.count - 1
        return devices.count - 1
    }

    mutating func build() -> (bytes: [UInt8], contents: PerfettoTraceReport.Contents) {
        for d in result.devices { _ = device(d.device) }
        let keptGaps = selectGaps()
        let windows = Self.windows(keptGaps)
        selectStates(around: windows)
        selectTriggers(around: windows)
        addFindings()
        return write()
    }
}
