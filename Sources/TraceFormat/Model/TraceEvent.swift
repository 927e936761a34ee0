/// One recorded event: when it happened, who did it, what the kernel answered, and the decoded payload.
///
/// Syscall events carry both entry (`time`) and exit (`endTime`) timestamps because the race
/// analysis depends on when a call *completed*; instantaneous events have `endTime == time`.
public struct TraceEvent: Sendable, Hashable {
    /// CLOCK_MONOTONIC nanoseconds at syscall entry (or the instant of a non-syscall event).
    public var time: UInt64
    /// CLOCK_MONOTONIC nanoseconds at syscall exit; equal to `time` for instantaneous events.
    public var endTime: UInt64
    public var pid: Int32
    public var tid: Int32
    /// The syscall's return value, or `-errno` when it failed; 0 where no syscall is involved.
    public var result: Int64
    public var payload: EventPayload

    public init(time: UInt64, endTime: UInt64? = nil, pid: Int32, tid: Int32, result: Int64 = 0, payload: EventPayload) {
        self.time = time
        self.endTime = endTime ?? time
        self.pid = pid
        self.tid = tid
        self.result = result
        self.payload = payload
    }

    public var kind: EventKind { payload.kind }
    /// True when the syscall returned an error (`result` holds `-errno`).
    public var failed: Bool { result < 0 && result >= -4095 }
    public var errno: Int32? { failed ? Int32(-result) : nil }
}

extension TraceEvent {
    /// Why this event cannot be written within the format's per-event limits (docs/FORMAT.md), or nil.
    public var formatLimitViolation: String? {
        let limit = TraceFormat.maxListItems
        switch payload {
        case .regionInfo(let p) where (p.sparseAreas?.count ?? 0) > limit:
            return "\(p.sparseAreas?.count ?? 0) sparse-mmap areas, more than the \(limit) an event may hold"
        case .irqBinding(let p) where p.eventfds.count > limit:
            return "\(p.eventfds.count) eventfds, more than the \(limit) an event may hold"
        case .marker(let p) where p.fields.count > limit:
            return "\(p.fields.count) marker fields, more than the \(limit) an event may hold"
        default:
            return nil
        }
    }
}
