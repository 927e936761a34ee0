/// One moment the device started needing traps, and how long the VMM took to stop guest access.
public struct RemapTrigger: Sendable, Codable, Equatable {
    /// "state" (entered a trap-requiring migration state), "signal" (re-evaluate interrupt), "marker" (trap.on).
    public var kind: String
    public var device: String
    public var timeNs: UInt64
    /// Trigger -> no range exposed any more. Negative: the VMM had already made the device unreachable (lead time). nil: never.
    public var latencyNs: Int64?
    /// Trigger -> first read of a re-evaluate eventfd (VMM woke up).
    public var wakeupNs: UInt64?
    /// Wake-up -> first region info re-read.
    public var reevaluationNs: UInt64?
    /// Re-read -> the unmap / memslot delete that ended the exposure, or the kernel's own evidence of it.
    public var effectiveNs: UInt64?
    /// What ended the exposure, when the kernel said so: `kvm.unmap_hva_range` (KVM dropped its mapping of
    /// the BAR's host range) or `kvm.mmio` (a guest access to the BAR's guest-physical range exited);
    /// nil when inferred from the VMM's call.
    public var effectiveEvidence: String?
}

/// The VMM making a device reachable again after it left the trap-requiring state.
public struct RestoreEvent: Sendable, Codable, Equatable {
    public var device: String
    public var timeNs: UInt64
    /// Leaving the state -> reachable again; nil if never.
    public var latencyNs: UInt64?
}
