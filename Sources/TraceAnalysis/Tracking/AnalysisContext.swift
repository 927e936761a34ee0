import TraceFormat

/// What the trackers share: the policy, the analyzer's clock, the live processes and devices, the
/// findings, and the gap accounting every change of reachability or requirement is reported to.
final class AnalysisContext {
    let policy: AnalysisPolicy
    let v1Mask: UInt32
    let v2States: Set<UInt32>
    /// No region list in the policy (the default): asked at every recompute, answered without copying the policy.
    private let checksEveryRegion: Bool

    // The per-event path touches these; exclusivity is statically evident (single-threaded, no
    // overlapping accesses), so skip the dynamic check that costs more than the work itself.
    @exclusivity(unchecked) private(set) var processes: [Int32: ProcessTables] = [:]
    @exclusivity(unchecked) var devices: [String: DeviceTimeline] = [:]
    /// The process of the previous lookup (most events come from the same one). Not retained: `processes` owns
    /// it, and every removal from `processes` clears this, so the per-event path costs no reference counting.
    @exclusivity(unchecked) private var lastPid: Int32 = 0
    @exclusivity(unchecked) private var lastTables: Unmanaged<ProcessTables>? = nil
    /// Every device seen, in order of first appearance, across files.
    private(set) var deviceOrder: [String] = []
    private var deviceNames: Set<String> = []
    /// The analyzer's clock: the latest completion time seen in the current file. Effects never go back in
    /// time, whatever order a crafted or merged file holds its events in.
    @exclusivity(unchecked) var now: UInt64 = 0
    @exclusivity(unchecked) var findings = FindingLog()
    /// Set once by the analyzer: where changes of reachability and requirement go.
    /// Not owned: the analyzer owns the trackers, which own the context (a strong reference here would be a cycle).
    @exclusivity(unchecked) unowned(unsafe) var gaps: GapAccounting! = nil

    /// Moves with every change of what the guest may reach through any process (`ProcessTables` advances it), so
    /// that what was worked out of the processes for a device is kept until it does.
    let reachEpoch = ReachabilityEpoch()

    init(policy: AnalysisPolicy) throws(AnalysisPolicy.Invalid) {
        self.policy = policy
        v1Mask = try policy.resolvedV1Mask()
        v2States = try policy.resolvedV2States()
        checksEveryRegion = policy.regions == nil
    }

    @inline(__always)
    func process(_ pid: Int32) -> ProcessTables {
        if pid == lastPid, let last = lastTables { return last.takeUnretainedValue() }
        let p: ProcessTables
        if let existing = processes[pid] {
            p = existing
        } else {
            p = ProcessTables(epoch: reachEpoch)
            processes[pid] = p
            reachEpoch.advance()
        }
        lastPid = pid
        lastTables = Unmanaged.passUnretained(p)
        return p
    }

    /// The process's tables if it has any yet (a lookup that creates nothing).
    @inline(__always)
    func existingProcess(_ pid: Int32) -> ProcessTables? {
        if pid == lastPid, let last = lastTables { return last.takeUnretainedValue() }
        return processes[pid]
    }

    /// An eventfd read or write that cannot change anything (`ProcessTables.isQuiet`), answered from the
    /// previous lookup's process only: false means "look properly", never "not quiet".
    @inline(__always)
    func quietEventfd(pid: Int32, fd: Int32) -> Bool {
        guard pid == lastPid, let last = lastTables else { return false }
        return last._withUnsafeGuaranteedRef { $0.isQuiet(fd: fd) }
    }

    /// Forgets a process whose address space is gone.
    func removeProcess(_ pid: Int32) {
        processes[pid] = nil
        lastTables = nil
        reachEpoch.advance()
    }

    func device(_ name: String) -> DeviceTimeline {
        if let d = devices[name] { return d }
        let d = DeviceTimeline(name: name)
        devices[name] = d
        if deviceNames.insert(name).inserted { deviceOrder.append(name) }
        return d
    }

    func checks(region r: UInt32) -> Bool { checksEveryRegion || policy.regions?.contains(r) ?? true }

    /// The next file is a recording of its own: processes, devices and the clock start afresh.
    func forgetFile() {
        devices.removeAll()
        processes.removeAll()
        lastTables = nil
        reachEpoch.advance()
        now = 0
    }
}

/// A count of the changes to what the guest may reach through the processes of a file (their mappings, memslots and
/// their number).
final class ReachabilityEpoch {
    private(set) var value: UInt64 = 0
    func advance() { value &+= 1 }
}
