import TraceFormat

/// What a device requires: its migration state (v1 bits or the v2 FSM) and the arcs the VMM drives, its
/// regions' layouts, and a driver's own trap requests (docs/ANALYSIS.md, "Trap required").
final class DeviceStateTracker {
    private let context: AnalysisContext
    private let signalling: SignallingTracker
    /// The latest transition out of a running state in this file (lets the KVM_RUN check skip most calls).
    @exclusivity(unchecked) private var latestLeftRunning: UInt64?

    init(context: AnalysisContext, signalling: SignallingTracker) {
        self.context = context
        self.signalling = signalling
    }

    func deviceState(_ p: DeviceStateChange, _ e: EventHeader, at t: UInt64) {
        let d = context.device(p.device)
        guard p.operation == .set else {
            if !e.failed { d.state = p.resulting; d.migrationProtocol = p.migrationProtocol }
            return
        }
        // The state's name is text for findings only: made when one is reported.
        var name: String { MigrationStateNames.name(p.requested, protocol: p.migrationProtocol) }
        if let problem = Self.transitionProblem(p.migrationProtocol, from: d.state, to: p.requested) {
            context.findings.report(Finding(kind: .invalidStateTransition, severity: .error, message: problem, timeNs: t, device: p.device))
        }
        if e.failed {
            context.findings.report(
                Finding(
                    kind: .failedVFIOIoctl, severity: .error,
                    message: "device_state set \(name) failed: \(ErrnoNames.name(e.errno ?? 0))", timeNs: t, device: p.device))
            return
        }
        // A signal raised while this call ran (the driver signalling from inside the state change) was not
        // the VMM's to read first.
        if d.pendingSignals.contains(where: { $0 < e.time }) {
            context.findings.report(
                Finding(
                    kind: .stateChangeWithPendingSignal, severity: .warning,
                    message: "device_state \(name) completed while a re-evaluate signal was still pending (not yet read)",
                    timeNs: t, device: p.device))
        }
        if d.signalAwaitingReread != nil { d.actedSinceSignal = true }
        let wasRunning = d.state.map { isRunning(p.migrationProtocol, $0) } ?? true
        d.migrationProtocol = p.migrationProtocol
        d.state = p.requested
        if wasRunning && !isRunning(p.migrationProtocol, p.requested) {
            d.leftRunningAt.append(t)
            latestLeftRunning = max(latestLeftRunning ?? 0, t)
            if d.leftRunningAt.count > 64 { d.leftRunningAt.removeFirst() }
        }
        let before = d.stateRequires
        d.stateRequires = requires(p.migrationProtocol, p.requested)
        d.causeState = (p.migrationProtocol, p.requested)
        if !before && d.stateRequires {
            context.gaps.recompute(d, at: t, trigger: "state")
        } else {
            if before && !d.stateRequires && !d.reachable && d.everReachable { d.restorePendingSince = t }
            context.gaps.recompute(d, at: t)
        }
    }

    func regionInfo(_ p: RegionInfo, at t: UInt64) {
        let d = context.device(p.device)
        d.setRegion(p)
        signalling.reread(d, p, at: t)
        context.gaps.recompute(d, at: t)
    }

    /// A driver's own account: from `trap.on` until `trap.off`, the range must be trapped.
    func trapRequest(device: String, region r: UInt32, offset: UInt64, length: UInt64?, on: Bool, at t: UInt64) {
        let d = context.device(device)
        let range = length.map { Range(start: offset, length: $0) } ?? offset..<max(offset, d.regionSize(r))
        var set = d.markerRequired[r] ?? IntervalSet()
        if on { set.insert(range) } else { set.remove(range) }
        d.markerRequired[r] = set
        d.hasAccount = true
        if on {
            d.markerCause = "marker:trap.on"
            context.gaps.recompute(d, at: t, trigger: "marker")
        } else {
            context.gaps.recompute(d, at: t)
        }
    }

    /// Whether a KVM_RUN starting at `time` can span a transition (`kvmRun` would look at it), without its header.
    @inline(__always) func kvmRunMayMatter(startingAt time: UInt64) -> Bool {
        guard let latest = latestLeftRunning else { return false }
        return time < latest
    }

    /// A KVM_RUN that spans a device leaving its running state: the vCPU ran on a device that had stopped.
    @inline(__always)
    func kvmRun(_ e: EventHeader) {
        // Only a KVM_RUN that started before the latest transition out of a running state can span one.
        guard let latest = latestLeftRunning, e.time < latest else { return }
        spanningKVMRun(e)
    }

    private func spanningKVMRun(_ e: EventHeader) {
        for d in context.devices.values {
            for t in d.leftRunningAt where e.time < t && t < e.endTime {
                context.findings.report(
                    Finding(
                        kind: .runningWhileVCPUInKVMRun, severity: .error,
                        message: "device left its running state while vCPU thread \(e.tid) was still in KVM_RUN",
                        timeNs: t, device: d.name))
            }
        }
    }

    func endFile() { latestLeftRunning = nil }

    private func requires(_ p: DeviceStateChange.MigrationProtocol, _ state: UInt32) -> Bool {
        p == .v1 ? state & context.v1Mask != 0 : context.v2States.contains(state)
    }

    private func isRunning(_ p: DeviceStateChange.MigrationProtocol, _ state: UInt32) -> Bool {
        p == .v1 ? state & 1 != 0 : (state == 2 || state == 6)
    }

    /// Why `from -> to` is not a valid request, or nil (docs/ANALYSIS.md lists the rules).
    static func transitionProblem(_ p: DeviceStateChange.MigrationProtocol, from: UInt32?, to: UInt32) -> String? {
        switch p {
        case .v1:
            if to > 7 { return "v1 device_state 0x\(String(to, radix: 16)) sets reserved bits" }
            if to & 4 != 0 && to != 4 { return "v1 device_state \(MigrationStateNames.v1(to)) is invalid: RESUMING must be set alone" }
            return nil
        case .v2:
            if to == 0 { return "v2 device_state ERROR cannot be requested" }
            if to > 7 { return "v2 device_state \(to) is not a known state" }
            guard let from else { return nil }
            if from == 0 { return "v2 device_state \(MigrationStateNames.v2(to)) requested while in ERROR: only VFIO_DEVICE_RESET leaves ERROR" }
            if from == 3 && (to == 6 || to == 7) {
                return "v2 arc STOP_COPY -> \(MigrationStateNames.v2(to)) is blocked by the kernel"
            }
            return nil
        }
    }
}
