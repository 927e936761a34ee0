/// An interval during which a device was guest-reachable, or needed traps (on a checked, mappable region):
/// the two bands of the HTML timeline. Collected only on request (`TraceAnalyzer.collectSpans`).
public struct DeviceSpan: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case reachable
        case trapRequired
    }
    public var device: String
    public var kind: Kind
    public var startNs: UInt64
    /// nil: still so at the end of the trace.
    public var endNs: UInt64?
}
