/// A protocol or trace problem the analyzer reports besides gaps.
public struct Finding: Sendable, Codable, Equatable {
    public enum Severity: String, Sendable, Codable, Comparable {
        case info, warning, error
        public static func < (a: Severity, b: Severity) -> Bool {
            let order: [Severity] = [.info, .warning, .error]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    /// Stable identifiers, listed in docs/ANALYSIS.md.
    public enum Kind: String, Sendable, Codable {
        case trapGap = "trap-gap"
        case lostSignal = "lost-signal"
        case reevaluateNotBound = "reevaluate-not-bound"
        case signalNeverConsumed = "signal-never-consumed"
        case openAtTraceEnd = "open-at-trace-end"
        case mapsExcludedRange = "maps-excluded-range"
        case stateChangeWithPendingSignal = "state-change-with-pending-signal"
        case noRegionInfoReread = "no-region-info-reread"
        case invalidStateTransition = "invalid-state-transition"
        case failedVFIOIoctl = "failed-vfio-ioctl"
        case runningWhileVCPUInKVMRun = "running-while-vcpu-in-kvm-run"
        case lostEvents = "lost-events"
        case vmmKilled = "vmm-killed"
        case traceDamage = "trace-damage"
        case thresholdExceeded = "threshold-exceeded"
    }

    public var kind: Kind
    public var severity: Severity
    public var message: String
    public var timeNs: UInt64?
    public var device: String?
}
