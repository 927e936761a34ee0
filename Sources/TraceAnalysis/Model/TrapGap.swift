/// An interval in which part of a device region was trap-required and still guest-reachable.
public struct TrapGap: Sendable, Codable, Equatable {
    public var device: String
    public var region: UInt32
    /// Region-relative bounds of the exposed range when the gap opened.
    public var offset: UInt64
    public var length: UInt64
    public var startNs: UInt64
    /// nil while the gap is still open at the end of the trace.
    public var endNs: UInt64?
    /// Up to the end of the trace when open.
    public var durationNs: UInt64
    /// What made traps required: "state:PRE_COPY", "signal:irq5", "marker:trap.on".
    public var cause: String
    /// Trapped accesses (pread/pwrite on the region) seen during the gap.
    public var trappedAccesses: UInt64
}
