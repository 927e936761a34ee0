/// Everything `analyze` reports; its JSON form is documented in docs/ANALYSIS.md.
public struct AnalysisResult: Sendable, Codable, Equatable {
    /// Remap latency statistics, overall and per phase.
    public struct Remap: Sendable, Codable, Equatable {
        public var count: UInt64
        public var minNs: UInt64
        public var p50Ns: UInt64
        public var p90Ns: UInt64
        public var p99Ns: UInt64
        public var p999Ns: UInt64
        public var maxNs: UInt64
        public var meanNs: Double
        public var phases: [String: LatencySummary]
        /// Triggers the VMM had already handled before they happened (negative latency), as positive ns.
        public var leadTime: LatencySummary
        /// Triggers never followed by the device becoming unreachable.
        public var unresolved: UInt64

        /// The overall figures as a summary value.
        public var total: LatencySummary {
            LatencySummary(count: count, minNs: minNs, p50Ns: p50Ns, p90Ns: p90Ns, p99Ns: p99Ns, p999Ns: p999Ns, maxNs: maxNs, meanNs: meanNs)
        }

        init(total: LatencySummary, phases: [String: LatencySummary], leadTime: LatencySummary, unresolved: UInt64) {
            count = total.count
            minNs = total.minNs
            p50Ns = total.p50Ns
            p90Ns = total.p90Ns
            p99Ns = total.p99Ns
            p999Ns = total.p999Ns
            maxNs = total.maxNs
            meanNs = total.meanNs
            self.phases = phases
            self.leadTime = leadTime
            self.unresolved = unresolved
        }
    }

    /// Per-device summary.
    public struct Device: Sendable, Codable, Equatable {
        public var device: String
        public var gaps: Int
        public var longestGapNs: UInt64
        public var remapLatency: Remap
        public var restoreLatency: LatencySummary
        public var finalState: String?
    }

    public var files: [String]
    /// "pass", "fail" or "nothing-checked" (no VFIO device in any file: not a pass).
    public var verdict: String
    /// Error and warning findings, listed or not (`findings` lists at most 100 of a kind).
    public var errors: Int
    public var warnings: Int
    public var events: UInt64
    public var startNs: UInt64?
    public var endNs: UInt64?
    public var gaps: [TrapGap]
    public var remapLatency: Remap
    public var restoreLatency: LatencySummary
    public var triggers: [RemapTrigger]
    public var restores: [RestoreEvent]
    public var devices: [Device]
    public var findings: [Finding]
    public var policy: AnalysisPolicy

    public static let pass = "pass"
    public static let fail = "fail"
    public static let nothingChecked = "nothing-checked"

    public var passed: Bool { verdict == Self.pass }
    /// No VFIO device was seen: the trace checked nothing, whatever else it held.
    public var checkedNothing: Bool { verdict == Self.nothingChecked }
}
