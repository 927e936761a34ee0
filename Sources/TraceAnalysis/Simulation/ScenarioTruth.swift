/// What a simulated scenario planted: the ground truth `analyze` is tested against (`FILE.truth.json`).
public struct ScenarioTruth: Sendable, Codable, Equatable {
    /// A finding the scenario is built to provoke.
    public struct ExpectedFinding: Sendable, Codable, Equatable {
        public var kind: String
        public var device: String
        public var timeNs: UInt64?
    }

    /// Totals, always exact, also for scenarios too long to list every gap.
    public struct Summary: Sendable, Codable, Equatable {
        public var gapCount: UInt64 = 0
        public var openGaps: UInt64 = 0
        public var gapTotalNs: UInt64 = 0
        public var maxGapNs: UInt64 = 0
        public var triggerCount: UInt64 = 0
        public var resolvedTriggers: UInt64 = 0
        public var latencySumNs: UInt64 = 0
        public var leadCount: UInt64 = 0
        public var leadSumNs: UInt64 = 0
        public var restoreCount: UInt64 = 0
        public var restoreSumNs: UInt64 = 0
    }

    public var scenario: String
    public var seed: UInt64
    public var events: UInt64
    /// True when `gaps`, `triggers` and `restores` list everything (false for very long runs: use `summary`).
    public var complete: Bool
    public var gaps: [TrapGap]
    public var triggers: [RemapTrigger]
    public var restores: [RestoreEvent]
    public var findings: [ExpectedFinding]
    public var summary: Summary
}
