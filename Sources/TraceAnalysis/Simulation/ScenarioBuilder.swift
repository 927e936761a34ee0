import TraceFormat

/// Writes a synthetic VMM trace one syscall at a time on a single timeline, and records the ground
/// truth of what it planted as it goes (gaps, trigger latencies and phases, restores).
///
/// Events are laid out back to back (each starts after the previous one completed), in the shapes the
/// recorder produces; every truth value is taken from the planned times of the events written.
final class ScenarioBuilder {
    /// One simulated device and the fds/addresses the simulated VMM uses for it.
    final class Device {
        let name: String
        let index: Int
        var deviceFd: Int32 = -1
        var reevalEventfd: Int32 = -1
        var msiEventfd: Int32 = -1
        var address: UInt64
        let slot: UInt32
        let gpa: UInt64
        let barSize: UInt64 = 0x10_0000
        var protocolV1 = false
        /// Planned open gap (truth) and pending triggers (truth indices).
        var gapStart: UInt64?
        var gapCause = ""
        var gapAccesses: UInt64 = 0
        var pendingTriggers: [Int] = []
        var wake: UInt64?
        var reread: UInt64?
        var unreachableSince: UInt64?
        var restoreSince: UInt64?

        init(name: String, index: Int) {
            self.name = name
            self.index = index
            address = 0x7F00_0000_0000 + UInt64(index) * 0x1000_0000
            slot = 10 + UInt32(index)
            gpa = 0xFE00_0000 + UInt64(index) * 0x20_0000
        }
    }

    let writer: TraceWriter
    var rng: SplitMix64
    private(set) var now: UInt64 = 10_000_000_000
    let pid: Int32 = 5000
    var vmmTid: Int32 { pid }
    var driverTid: Int32 { pid + 50 }
    private var nextFd: Int32 = 3
    private var vmFd: Int32 = -1
    private(set) var eventsWritten: UInt64 = 0
    /// Keep full truth lists only up to this many entries (memory stays flat for very long runs).
    let listLimit: Int
    var truth: ScenarioTruth

    init(writer: TraceWriter, scenario: String, seed: UInt64, listLimit: Int = 200_000) {
        self.writer = writer
        rng = SplitMix64(seed: seed)
        self.listLimit = listLimit
        truth = ScenarioTruth(
            scenario: scenario, seed: seed, events: 0, complete: true, gaps: [], triggers: [], restores: [],
            findings: [], summary: .init())
    }

    // MARK: - Emitting

    /// Writes one syscall event taking `duration` ns from now; returns its completion time.
    @discardableResult
    func call(_ payload: EventPayload, tid: Int32? = nil, result: Int64 = 0, duration: UInt64? = nil) throws -> UInt64 {
        let d = duration ?? rng.range(800, 6_000)
        let start = now
        now += d
        try writer.append(TraceEvent(time: start, endTime: now, pid: pid, tid: tid ?? vmmTid, result: result, payload: payload))
        eventsWritten += 1
        lastTime = now
        now += rng.range(200, 2_000)
        return start + d
    }

    func wait(_ lo: UInt64, _ hi: UInt64) { now += rng.range(lo, hi) }

    func allocateFd() -> Int32 {
        defer { nextFd += 1 }
        return nextFd
    }

    /// Unrelated activity that must not change the analysis: vCPU exits, config-space reads, MSI eventfd traffic.
    func noise(_ count: Int, devices: [Device]) throws {
        for _ in 0..<count {
            let tid = pid + 1 + Int32(rng.next() % 4)
            switch rng.next() % 3 {
            case 0:
                try call(.ioctl(GenericIoctl(fd: 20 + tid - pid, target: .kvmVCPU, request: 0xAE80)), tid: tid, duration: rng.range(1_000, 20_000))
            case 1:
                let d = devices[Int(rng.next() % UInt64(devices.count))]
                try call(
                    .regionAccess(
                        RegionAccess(operation: .read, fd: d.deviceFd, device: d.name, region: 7, offset: 4, length: 4, value: 0x0010_0007)),
                    tid: tid, result: 4)
            default:
                let d = devices[Int(rng.next() % UInt64(devices.count))]
                if d.msiEventfd >= 0 {
                    try call(.eventfd(EventfdOp(operation: .write, fd: d.msiEventfd, value: 1)), tid: driverTid, result: 8)
                    try call(.eventfd(EventfdOp(operation: .read, fd: d.msiEventfd, value: 1)), tid: tid, result: 8)
                }
            }
        }
    }

    // MARK: - Truth bookkeeping

    private func addTrigger(_ t: RemapTrigger) -> Int {
        truth.summary.triggerCount += 1
        if let l = t.latencyNs, l < 0 {
            truth.summary.leadCount += 1
            truth.summary.leadSumNs += UInt64(-l)
        }
        guard truth.triggers.count < listLimit else {
            truth.complete = false
            return -1
        }
        truth.triggers.append(t)
        return truth.triggers.count - 1
    }

    /// A trigger at `t` while the device is reachable: pending until the planned remap.
    func triggerWhileExposed(_ d: Device, kind: String, at t: UInt64) {
        let i = addTrigger(RemapTrigger(kind: kind, device: d.name, timeNs: t, latencyNs: nil))
        d.pendingTriggers.append(i)
    }

    /// A trigger at `t` after the VMM already made the device unreachable: lead time.
    func triggerAfterUnmap(_ d: Device, kind: String, at t: UInt64) {
        guard let since = d.unreachableSince else { return }
        _ = addTrigger(RemapTrigger(kind: kind, device: d.name, timeNs: t, latencyNs: -Int64(t - since)))
    }

    func openGap(_ d: Device, cause: String, at t: UInt64) {
        guard d.gapStart == nil else { return }
        d.gapStart = t
        d.gapCause = cause
        d.gapAccesses = 0
    }

    /// The exposure ended at `t` because the VMM made the device unreachable.
    func remapped(_ d: Device, at t: UInt64) {
        if let start = d.gapStart { closeGap(d, start: start, end: t) }
        for i in d.pendingTriggers {
            truth.summary.resolvedTriggers += 1
            guard i >= 0 else { continue }
            let start = truth.triggers[i].timeNs
            truth.triggers[i].latencyNs = Int64(t - start)
            truth.summary.latencySumNs += t - start
            if let w = d.wake, w >= start {
                truth.triggers[i].wakeupNs = w - start
                if let r = d.reread, r >= w { truth.triggers[i].reevaluationNs = r - w }
            }
            if let r = d.reread, r >= start { truth.triggers[i].effectiveNs = t - r }
        }
        d.pendingTriggers.removeAll()
        d.gapStart = nil
        d.wake = nil
        d.reread = nil
        d.unreachableSince = t
    }

    private func closeGap(_ d: Device, start: UInt64, end: UInt64?) {
        let duration = (end ?? lastTime) - start
        truth.summary.gapCount += 1
        truth.summary.gapTotalNs += duration
        truth.summary.maxGapNs = max(truth.summary.maxGapNs, duration)
        if end == nil { truth.summary.openGaps += 1 }
        guard truth.gaps.count < listLimit else {
            truth.complete = false
            return
        }
        truth.gaps.append(
            TrapGap(
                device: d.name, region: 0, offset: 0, length: d.barSize, startNs: start, endNs: end,
                durationNs: duration, cause: d.gapCause, trappedAccesses: d.gapAccesses))
    }

    /// The device became reachable again at `t` after leaving the saving state at `d.restoreSince`.
    func restored(_ d: Device, at t: UInt64) {
        d.unreachableSince = nil
        guard let since = d.restoreSince else { return }
        d.restoreSince = nil
        truth.summary.restoreCount += 1
        truth.summary.restoreSumNs += t - since
        if truth.restores.count < listLimit {
            truth.restores.append(RestoreEvent(device: d.name, timeNs: since, latencyNs: t - since))
        } else {
            truth.complete = false
        }
    }

    func expect(_ kind: String, _ d: Device, at t: UInt64?) {
        truth.findings.append(.init(kind: kind, device: d.name, timeNs: t))
    }

    /// Completion time of the last event written (the trace's end).
    private(set) var lastTime: UInt64 = 0

    /// Gaps still open are closed at the end of the trace; pending triggers stay unresolved.
    func finish(devices: [Device]) throws -> ScenarioTruth {
        for d in devices {
            if let start = d.gapStart { closeGap(d, start: start, end: nil) }
            d.gapStart = nil
        }
        truth.events = eventsWritten
        return truth
    }
}
