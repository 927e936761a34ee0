import TraceFormat

/// The HTML timeline's three bands per device — migration state, guest-reachable, trap-required — collected
/// as the analysis streams, in bounded memory: every change while there are at most `exactLimit` of them,
/// and always per-bucket aggregates (time covered, changes) on a grid of at most `bucketCount` buckets per
/// device whose width doubles as the trace grows. Pass one to `TraceAnalyzer.analyze(paths:policy:bands:)`.
public final class TimelineBands {
    /// What a device's bands show from `timeNs` on (until its next change).
    public struct Change: Sendable, Equatable {
        public var timeNs: UInt64
        /// Index into `stateNames`; -1 before the first state set (or after the file ended).
        public var state: Int
        public var reachable: Bool
        public var trapRequired: Bool
    }

    /// One device's aggregates, bucket `i` covering [origin + i·width, origin + (i+1)·width).
    public struct Buckets: Sendable, Equatable {
        /// Nanoseconds of each bucket the device was guest-reachable / trap-required.
        public var reachableNs: [UInt64]
        public var trapRequiredNs: [UInt64]
        /// Per state index, nanoseconds of each bucket spent in that state.
        public var stateNs: [[UInt64]]
        /// Band changes (any of the three) in each bucket.
        public var changes: [UInt32]

        init(count: Int, states: Int) {
            reachableNs = Array(repeating: 0, count: count)
            trapRequiredNs = reachableNs
            stateNs = Array(repeating: reachableNs, count: states)
            changes = Array(repeating: 0, count: count)
        }
    }

    public let exactLimit: Int
    public private(set) var bucketCount: Int
    /// State names in order of first appearance.
    public private(set) var stateNames: [String] = []
    /// Devices in order of first appearance.
    public private(set) var devices: [String] = []
    /// Every change of every device (indexed like `devices`); nil once they numbered more than `exactLimit`.
    public private(set) var changes: [[Change]]? = []
    public private(set) var buckets: [Buckets] = []
    /// Start of bucket 0: the first change seen (earlier times, from a later file, are counted in bucket 0).
    public private(set) var origin: UInt64?
    public private(set) var bucketWidth: UInt64 = 256

    private var index: [String: Int] = [:]
    private var current: [Change] = []
    private var lastState: [(UInt32?, DeviceStateChange.MigrationProtocol?)] = []
    private var changeTotal = 0
    /// Bucket cells across devices; past it the grid halves its resolution (a trace with thousands of devices).
    private let cellBudget = 65_536

    public init(exactLimit: Int = 20_000, bucketCount: Int = 2048) {
        self.exactLimit = exactLimit
        self.bucketCount = max(2, bucketCount & ~1)
    }

    /// The grid's end: times at or after it need a coarser grid.
    public var gridEnd: UInt64 { (origin ?? 0).saturatingAdd(bucketWidth.multipliedReportingOverflow(by: UInt64(bucketCount)).partialValue) }

    /// A device's bands as the analyzer sees them after a change at `t` (called on every recompute; only
    /// differences are kept).
    func observe(
        device: String, state: UInt32?, protocol p: DeviceStateChange.MigrationProtocol?, reachable: Bool, trapRequired: Bool, at t: UInt64
    ) {
        let i = deviceIndex(device, at: t)
        var next = current[i]
        if lastState[i].0 != state || lastState[i].1 != p {
            lastState[i] = (state, p)
            next.state = state.map { stateIndex(MigrationStateNames.name($0, protocol: p ?? .v2)) } ?? -1
        }
        next.reachable = reachable
        next.trapRequired = trapRequired
        set(i, next, at: t)
    }

    /// The file ended at `t`: its devices are forgotten (the next file starts afresh).
    func endFile(at t: UInt64) {
        for i in devices.indices where current[i].state != -1 || current[i].reachable || current[i].trapRequired {
            set(i, Change(timeNs: t, state: -1, reachable: false, trapRequired: false), at: t)
            lastState[i] = (nil, nil)
        }
    }

    private func deviceIndex(_ name: String, at t: UInt64) -> Int {
        if let i = index[name] { return i }
        if origin == nil { origin = t }
        let i = devices.count
        index[name] = i
        devices.append(name)
        current.append(Change(timeNs: t, state: -1, reachable: false, trapRequired: false))
        lastState.append((nil, nil))
        changes?.append([])
        while devices.count * bucketCount > cellBudget && bucketCount > 64 { coarsen(halvingCount: true) }
        buckets.append(Buckets(count: bucketCount, states: stateNames.count))
        return i
    }

    private func stateIndex(_ name: String) -> Int {
        if let k = stateNames.firstIndex(of: name) { return k }
        stateNames.append(name)
        for i in buckets.indices { buckets[i].stateNs.append(Array(repeating: 0, count: bucketCount)) }
        return stateNames.count - 1
    }

    private func set(_ i: Int, _ new: Change, at t: UInt64) {
        let old = current[i]
        guard old.state != new.state || old.reachable != new.reachable || old.trapRequired != new.trapRequired else { return }
        let from = max(old.timeNs, origin ?? 0)
        let to = max(t, from)
        grow(to: to)
        if old.reachable { cover(&buckets[i].reachableNs, from, to) }
        if old.trapRequired { cover(&buckets[i].trapRequiredNs, from, to) }
        if old.state >= 0 { cover(&buckets[i].stateNs[old.state], from, to) }
        buckets[i].changes[bucket(to)] &+= 1
        var stamped = new
        stamped.timeNs = to
        current[i] = stamped
        changeTotal += 1
        if changeTotal > exactLimit { changes = nil } else { changes?[i].append(stamped) }
    }

    private func bucket(_ t: UInt64) -> Int {
        let o = origin ?? 0
        return t <= o ? 0 : min(bucketCount - 1, Int((t - o) / bucketWidth))
    }

    /// Adds [from, to) to a bucket array.
    private func cover(_ a: inout [UInt64], _ from: UInt64, _ to: UInt64) {
        guard to > from else { return }
        let o = origin ?? 0
        var lo = from
        while lo < to {
            let b = bucket(lo)
            let bucketEnd = o.saturatingAdd(UInt64(b + 1) * bucketWidth)
            let hi = b == bucketCount - 1 ? to : min(to, bucketEnd)
            a[b] &+= hi - lo
            lo = hi
        }
    }

    /// Doubles the bucket width until `t` falls inside the grid.
    private func grow(to t: UInt64) {
        while t >= gridEnd && bucketWidth < UInt64.max / UInt64(bucketCount * 4) { coarsen(halvingCount: false) }
    }

    /// Merges neighbouring buckets: the width doubles; the grid keeps its bucket count (and so covers twice the
    /// time) or, with `halvingCount`, halves it (same span, half the memory).
    private func coarsen(halvingCount: Bool) {
        func merge(_ a: [UInt64]) -> [UInt64] {
            var out = [UInt64](repeating: 0, count: halvingCount ? a.count / 2 : a.count)
            for k in 0..<a.count / 2 { out[k] = a[2 * k] &+ a[2 * k + 1] }
            return out
        }
        for i in buckets.indices {
            buckets[i].reachableNs = merge(buckets[i].reachableNs)
            buckets[i].trapRequiredNs = merge(buckets[i].trapRequiredNs)
            buckets[i].stateNs = buckets[i].stateNs.map(merge)
            var c = [UInt32](repeating: 0, count: halvingCount ? bucketCount / 2 : bucketCount)
            for k in 0..<bucketCount / 2 { c[k] = buckets[i].changes[2 * k] &+ buckets[i].changes[2 * k + 1] }
            buckets[i].changes = c
        }
        bucketWidth *= 2
        if halvingCount { bucketCount /= 2 }
    }
}
