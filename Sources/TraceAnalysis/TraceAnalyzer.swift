public import TraceFormat

/// Rebuilds each device's timeline from a stream of events and finds trap gaps, remap latencies and
/// protocol problems (definitions: docs/ANALYSIS.md).
///
/// Streaming: feed events in file order with `consume(_:)`, then call `finish()`. Memory grows with
/// live state (devices, mappings, memslots) and with what is reported, not with trace length.
public final class TraceAnalyzer {
    public let policy: AnalysisPolicy
    private let v1Mask: UInt32
    private let v2States: Set<UInt32>

    // The per-event path touches these; exclusivity is statically evident (single-threaded, no
    // overlapping accesses), so skip the dynamic check that costs more than the work itself.
    @exclusivity(unchecked) private var processes: [Int32: ProcessTables] = [:]
    @exclusivity(unchecked) private var devices: [String: DeviceTimeline] = [:]
    /// The process of the previous event (most events come from the same one).
    @exclusivity(unchecked) private var lastProcess: (pid: Int32, tables: ProcessTables)?
    /// Every device seen, in order of first appearance, across files.
    private var deviceOrder: [String] = []
    private var deviceNames: Set<String> = []
    /// Each device's migration state at the end of the last file it appeared in.
    private var finalStates: [String: String] = [:]

    private(set) var gaps: [TrapGap] = []
    private(set) var triggers: [RemapTrigger] = []
    private(set) var restores: [RestoreEvent] = []
    /// Findings as listed: the first `listedPerKind` of each kind (`report`).
    private(set) var findings: [Finding] = []
    /// Findings per kind, listed or not.
    private var findingCounts: [Finding.Kind: Int] = [:]
    /// The most severe finding per kind among those not listed.
    private var unlistedSeverity: [Finding.Kind: Finding.Severity] = [:]
    private var errorCount = 0
    private var warningCount = 0
    /// Most findings of one kind listed; the rest are counted (a trace of 10,000 lost-event records or gaps
    /// must not make a report of 10,000 lines).
    public static let listedPerKind = 100
    /// Collect `spans` (reachable and trap-required intervals per device) for timelines; off by default,
    /// since they grow with the number of transitions.
    public var collectSpans = false
    public private(set) var spans: [DeviceSpan] = []
    private var remap = LatencyRecorder()
    private var wakeup = LatencyRecorder()
    private var reevaluation = LatencyRecorder()
    private var effective = LatencyRecorder()
    private var lead = LatencyRecorder()
    private var restore = LatencyRecorder()
    private var latencies: [String: DeviceLatency] = [:]
    private var unresolved: UInt64 = 0
    /// Number of gaps open across all devices (lets the hot path skip lookups).
    @exclusivity(unchecked) private var openGapCount = 0
    private var latestLeftRunning: UInt64?
    /// The analyzer's clock: the latest completion time seen in the current file. Effects never go back in
    /// time, whatever order a crafted or merged file holds its events in.
    private var now: UInt64 = 0
    /// Per process and eventfd: when a read of a bound re-evaluate eventfd returned with no signal pending.
    /// The write that satisfied it may be seen later (another thread's exit stop).
    private var earlyReads: [Int32: [Int32: UInt64]] = [:]

    @exclusivity(unchecked) public private(set) var eventCount: UInt64 = 0
    @exclusivity(unchecked) private var firstNs: UInt64?
    @exclusivity(unchecked) private var lastNs: UInt64 = 0

    public init(policy: AnalysisPolicy = .default) throws(AnalysisPolicy.Invalid) {
        self.policy = policy
        v1Mask = try policy.resolvedV1Mask()
        v2States = try policy.resolvedV2States()
    }

    // MARK: - Feeding events

    private func process(_ pid: Int32) -> ProcessTables {
        if let last = lastProcess, last.pid == pid { return last.tables }
        let p = processes[pid] ?? ProcessTables()
        processes[pid] = p
        lastProcess = (pid, p)
        return p
    }

    private func device(_ name: String) -> DeviceTimeline {
        if let d = devices[name] { return d }
        let d = DeviceTimeline(name: name)
        devices[name] = d
        if deviceNames.insert(name).inserted { deviceOrder.append(name) }
        return d
    }

    private func checks(region r: UInt32) -> Bool { policy.regions?.contains(r) ?? true }

    /// Adds one event; effects take place at the event's completion time (`endTime`).
    public func consume(_ e: TraceEvent) {
        eventCount += 1
        // A crafted event may complete before it starts: the trace's span covers both ends.
        let earliest = min(e.time, e.endTime)
        if let f = firstNs { if earliest < f { firstNs = earliest } } else { firstNs = earliest }
        lastNs = max(lastNs, e.time, e.endTime)
        now = max(now, e.endTime)
        let t = now
        switch e.payload {
        case .regionAccess(let p):
            // Most accesses happen with no gap open anywhere: skip the lookups then.
            guard openGapCount > 0, p.region >= 0, let d = devices[p.device], var gap = d.openGaps[UInt32(p.region)] else { return }
            gap.trappedAccesses += 1
            d.openGaps[UInt32(p.region)] = gap
        case .ioctl(let p):
            if p.request == 0xAE80 { checkKVMRun(e) }
            // A process that creates a VM will route guest access through memslots: from now on a
            // mapping alone does not make a device reachable.
            if p.request == 0xAE01 && !e.failed { process(e.pid).memslotsSeen = true }
        case .eventfd(let p):
            eventfd(p, e, at: t)
        case .mapping(let p):
            guard !e.failed else { return }
            mapping(p, pid: e.pid, result: e.result, at: t)
        case .memslot(let p):
            guard !e.failed else { return }
            let proc = process(e.pid)
            let before = proc.memslots
            proc.setMemslot(vmFd: p.vmFd, slot: p.slot, user: p.size == 0 ? nil : Range(start: p.userAddress, length: p.size), address: p.userAddress)
            var touched = Set<String>()
            for r in before.values { touched.formUnion(proc.devices(touching: r)) }
            if p.size > 0 { touched.formUnion(proc.devices(touching: Range(start: p.userAddress, length: p.size))) }
            // A delete of a slot made before an attach names only its address.
            if p.size == 0 && !proc.adoptedMappings.isEmpty { touched.formUnion(proc.devices(touching: Range(start: p.userAddress, length: 1))) }
            for name in touched.sorted() { recompute(device(name), at: t) }
        case .regionInfo(let p):
            if e.failed { return failed(e, device: p.device, what: "VFIO_DEVICE_GET_REGION_INFO index \(p.index)") }
            regionInfo(p, at: t)
        case .irqBinding(let p):
            if e.failed { return failed(e, device: p.device, what: "VFIO_DEVICE_SET_IRQS index \(p.index)") }
            irqBinding(p, pid: e.pid, at: t)
        case .deviceState(let p):
            deviceState(p, e, at: t)
        case .vfioIoctl(let p):
            if e.failed {
                failed(e, device: p.device.isEmpty ? nil : p.device, what: IoctlNames.name(request: p.request, target: p.target))
            }
        case .deviceOpen(let p):
            if e.failed { failed(e, device: p.device, what: "VFIO_GROUP_GET_DEVICE_FD \"\(p.device)\"") } else { _ = device(p.device) }
        case .marker(let m):
            marker(m, at: t)
        case .lost(let l):
            report(
                Finding(
                    kind: .lostEvents, severity: .warning,
                    message: "the recorder dropped \(l.count) events; the analysis may miss changes in that interval",
                    timeNs: l.fromNs, device: nil))
        case .process(let p):
            if p.operation == .exec || (p.operation == .exit && p.target == e.pid) {
                // The address space is gone: its mappings and memslots no longer reach the guest.
                if let proc = processes[e.pid] {
                    let names = Set(proc.mappings.map(\.device))
                    processes[e.pid] = nil
                    lastProcess = nil
                    for n in names.sorted() { recompute(device(n), at: t) }
                }
            }
        case .fd(let p):
            if p.kind == .kvmVM && p.operation != .close { process(e.pid).memslotsSeen = true }
        case .irqfd:
            break
        }
    }

    private func failed(_ e: TraceEvent, device: String?, what: String) {
        report(
            Finding(
                kind: .failedVFIOIoctl, severity: .warning,
                message: "\(what) failed: \(ErrnoNames.name(e.errno ?? 0))", timeNs: now, device: device))
    }

    /// Adds a finding: listed while its kind has fewer than `listedPerKind`, counted always.
    private func report(_ f: Finding) {
        switch f.severity {
        case .error: errorCount += 1
        case .warning: warningCount += 1
        case .info: break
        }
        let n = findingCounts[f.kind, default: 0] + 1
        findingCounts[f.kind] = n
        if n <= Self.listedPerKind {
            findings.append(f)
        } else {
            unlistedSeverity[f.kind] = max(unlistedSeverity[f.kind] ?? .info, f.severity)
        }
    }

    private func eventfd(_ p: EventfdOp, _ e: TraceEvent, at t: UInt64) {
        guard !e.failed else { return }
        let proc = process(e.pid)
        switch p.operation {
        case .create:
            proc.eventfdBindings[Int32(truncatingIfNeeded: e.result)] = nil
        case .write:
            if let b = proc.eventfdBindings[p.fd] {
                guard policy.reevaluateIrqIndices.contains(b.index) else { return }
                let d = device(b.device)
                signal(d, index: b.index, at: t)
                // A read that returned after this write began consumed it, though its exit stop was seen first.
                if let r = earlyReads[e.pid]?[p.fd], e.time <= r {
                    earlyReads[e.pid]?[p.fd] = nil
                    consumed(d, at: t)
                }
            } else if proc.unboundWrites[p.fd] == nil {
                proc.unboundWrites[p.fd] = t
            }
        case .read:
            guard let b = proc.eventfdBindings[p.fd], policy.reevaluateIrqIndices.contains(b.index) else { return }
            let d = device(b.device)
            // The read of an interrupt QEMU already reported handled: the recorder saw the read return a
            // little late (its exit stop), after QEMU's log line. Same interrupt; the wake-up stands.
            if let h = d.handledBeforeRead[b.index], e.time <= h {
                d.handledBeforeRead[b.index] = nil
                return
            }
            d.readsAwaitingHandled[b.index, default: 0] += 1
            if d.pendingSignals.isEmpty { earlyReads[e.pid, default: [:]][p.fd] = e.endTime }
            consumed(d, at: t)
        }
    }

    /// The VMM took the pending signals in (the wake-up phase ends here).
    private func consumed(_ d: DeviceTimeline, at t: UInt64) {
        d.pendingSignals.removeAll()
        for i in d.pendingTriggers where triggers[i].wakeupNs == nil && wakeMarks[i] == nil {
            wakeMarks[i] = t
        }
    }

    /// The VMM's own report that it handled an interrupt (QEMU's vfio_intx_interrupt, logged right after
    /// it read the eventfd): matched to that read when it came first; else the wake-up itself (a read that
    /// began before this report and arrives later is the same interrupt's), and the signal too when nothing
    /// else saw it (a QEMU log alone). Never a second signal for one interrupt.
    private func handled(_ d: DeviceTimeline, index: UInt32, at t: UInt64) {
        if let reads = d.readsAwaitingHandled[index], reads > 0 {
            d.readsAwaitingHandled[index] = reads - 1
            return
        }
        if d.pendingSignals.isEmpty { signal(d, index: index, at: t) }
        consumed(d, at: t)
        d.handledBeforeRead[index] = t
    }

    /// Wake-up and re-read times per pending trigger (kept apart so phases are set once the trigger resolves).
    private var wakeMarks: [Int: UInt64] = [:]
    private var rereadMarks: [Int: UInt64] = [:]

    private func signal(_ d: DeviceTimeline, index: UInt32, at t: UInt64) {
        if let previous = d.signalAwaitingReread {
            noReread(d, since: previous)
        }
        d.signalActive = true
        d.signalCause = "signal:irq\(index)"
        d.layoutAfterSignal = [:]
        d.pendingSignals.append(t)
        d.signalAwaitingReread = t
        d.actedSinceSignal = false
        recompute(d, at: t, trigger: "signal")
    }

    private func noReread(_ d: DeviceTimeline, since t: UInt64) {
        guard policy.expectLayoutReread else { return }
        report(
            Finding(
                kind: .noRegionInfoReread, severity: .error,
                message: "no VFIO_DEVICE_GET_REGION_INFO re-read after the re-evaluate signal: the VMM does not follow the sparse-mmap protocol",
                timeNs: t, device: d.name))
    }

    private func mapping(_ p: MappingChange, pid: Int32, result: Int64, at t: UInt64) {
        let proc = process(pid)
        switch p.operation {
        case .mmap:
            let address = UInt64(bitPattern: result)
            let user = Range(start: address, length: p.length)
            var touched = proc.devices(touching: user)
            proc.unmap(user)
            if p.flags & MappingChange.adoptedAtAttach != 0 {
                proc.adoptedMappings.insert(user)
                proc.adoptedDevices.insert(p.device)
            }
            if !p.device.isEmpty && p.region >= 0 {
                let r = UInt32(p.region)
                proc.map(.init(user: user, device: p.device, region: Int32(r), regionOffset: p.regionOffset))
                touched.insert(p.device)
                let d = device(p.device)
                if let info = d.regions[r], info.sparseAreas != nil {
                    let allowed = IntervalSet(info.mmappableAreas.map { $0.offset..<$0.end })
                    let mapped = IntervalSet([Range(start: p.regionOffset, length: p.length)])
                    if !mapped.subtracting(allowed).isEmpty {
                        report(
                            Finding(
                                kind: .mapsExcludedRange, severity: .error,
                                message:
                                    "mmap of region \(r) +0x\(String(p.regionOffset, radix: 16)) len 0x\(String(p.length, radix: 16)) outside the latest sparse-mmap layout",
                                timeNs: t, device: p.device))
                    }
                }
            }
            for n in touched.sorted() { recompute(device(n), at: t) }
        case .munmap:
            let user = Range(start: p.address, length: p.length)
            let touched = proc.devices(touching: user)
            proc.unmap(user)
            for n in touched.sorted() { recompute(device(n), at: t) }
        case .mremap:
            let old = Range(start: p.address, length: p.length)
            let touched = proc.devices(touching: old)
            proc.remap(old: old, newStart: UInt64(bitPattern: result), newLength: p.newLength)
            for n in touched.sorted() { recompute(device(n), at: t) }
        }
    }

    private func regionInfo(_ p: RegionInfo, at t: UInt64) {
        let d = device(p.device)
        d.regions[p.index] = p
        if d.signalActive { d.layoutAfterSignal[p.index] = p }
        d.signalAwaitingReread = nil
        for i in d.pendingTriggers where rereadMarks[i] == nil {
            rereadMarks[i] = t
        }
        recompute(d, at: t)
    }

    private func irqBinding(_ p: IrqBinding, pid: Int32, at t: UInt64) {
        let proc = process(pid)
        guard p.flags & IrqBinding.dataEventfd != 0 else {
            if p.flags & IrqBinding.dataNone != 0 && p.count == 0 {
                // Disabling the whole index unbinds its eventfds.
                proc.eventfdBindings = proc.eventfdBindings.filter { !($0.value.device == p.device && $0.value.index == p.index) }
            }
            return
        }
        for fd in p.eventfds where fd >= 0 {
            if let w = proc.unboundWrites.removeValue(forKey: fd), policy.reevaluateIrqIndices.contains(p.index) {
                report(
                    Finding(
                        kind: .lostSignal, severity: .error,
                        message: "eventfd \(fd) was signalled before it was bound to irq index \(p.index): the signal was lost",
                        timeNs: w, device: p.device))
            }
            proc.eventfdBindings[fd] = (p.device, p.index)
        }
        _ = device(p.device)
    }

    private func requires(_ p: DeviceStateChange.MigrationProtocol, _ state: UInt32) -> Bool {
        p == .v1 ? state & v1Mask != 0 : v2States.contains(state)
    }

    private func isRunning(_ p: DeviceStateChange.MigrationProtocol, _ state: UInt32) -> Bool {
        p == .v1 ? state & 1 != 0 : (state == 2 || state == 6)
    }

    private func deviceState(_ p: DeviceStateChange, _ e: TraceEvent, at t: UInt64) {
        let d = device(p.device)
        guard p.operation == .set else {
            if !e.failed { d.state = p.resulting; d.migrationProtocol = p.migrationProtocol }
            return
        }
        let name = MigrationStateNames.name(p.requested, protocol: p.migrationProtocol)
        if let problem = Self.transitionProblem(p.migrationProtocol, from: d.state, to: p.requested) {
            report(Finding(kind: .invalidStateTransition, severity: .error, message: problem, timeNs: t, device: p.device))
        }
        if e.failed {
            report(
                Finding(
                    kind: .failedVFIOIoctl, severity: .error,
                    message: "device_state set \(name) failed: \(ErrnoNames.name(e.errno ?? 0))", timeNs: t, device: p.device))
            return
        }
        if !d.pendingSignals.isEmpty {
            report(
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
        d.stateCause = "state:\(name)"
        if !before && d.stateRequires {
            recompute(d, at: t, trigger: "state")
        } else {
            if before && !d.stateRequires && !d.reachable && d.everReachable { d.restorePendingSince = t }
            recompute(d, at: t)
        }
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

    private func marker(_ m: Marker, at t: UInt64) {
        guard !m.device.isEmpty else { return }
        switch m.name {
        case "trap.on", "trap.off":
            guard let r = m["region"].flatMap({ UInt32($0) }) else { return }
            let d = device(m.device)
            let offset = m["offset"].flatMap(Self.number) ?? 0
            let range = m["length"].flatMap(Self.number).map { Range(start: offset, length: $0) } ?? offset..<max(offset, d.regionSize(r))
            var set = d.markerRequired[r] ?? IntervalSet()
            if m.name == "trap.on" {
                set.insert(range)
                d.markerRequired[r] = set
                d.markerCause = "marker:trap.on"
                recompute(d, at: t, trigger: "marker")
            } else {
                set.remove(range)
                d.markerRequired[r] = set
                recompute(d, at: t)
            }
        case "irq.signal":
            guard let index = m["index"].flatMap({ UInt32($0) }), policy.reevaluateIrqIndices.contains(index) else { return }
            let d = device(m.device)
            let bound = processes.values.contains { p in p.eventfdBindings.values.contains { $0.device == m.device && $0.index == index } }
            // A device already set up when the recorder attached may have been bound before: unknown is not lost.
            let unknown = processes.values.contains { $0.adoptedDevices.contains(m.device) }
            if !bound && !unknown {
                report(
                    Finding(
                        kind: .lostSignal, severity: .error,
                        message: "irq index \(index) was signalled before any eventfd was bound to it: the VMM cannot see it",
                        timeNs: t, device: m.device))
                // The device still needs its mappings re-evaluated; nobody will be told.
                d.signalActive = true
                d.signalCause = "signal:irq\(index)(lost)"
                d.layoutAfterSignal = [:]
                recompute(d, at: t, trigger: "signal")
            } else {
                signal(d, index: index, at: t)
            }
        case "irq.handled":
            guard let index = m["index"].flatMap({ UInt32($0) }), policy.reevaluateIrqIndices.contains(index) else { return }
            handled(device(m.device), index: index, at: t)
        case "mmaps.enabled":
            guard let r = m["region"].flatMap({ UInt32($0) }) else { return }
            let d = device(m.device)
            if m["enabled"] == "0" || m["enabled"] == "false" { d.mmapsDisabled.insert(r) } else { d.mmapsDisabled.remove(r) }
            recompute(d, at: t)
        default:
            break
        }
    }

    static func number(_ s: String) -> UInt64? {
        s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
    }

    private func checkKVMRun(_ e: TraceEvent) {
        // Only a KVM_RUN that started before the latest transition out of a running state can span one.
        guard let latest = latestLeftRunning, e.time < latest else { return }
        for d in devices.values {
            for t in d.leftRunningAt where e.time < t && t < e.endTime {
                report(
                    Finding(
                        kind: .runningWhileVCPUInKVMRun, severity: .error,
                        message: "device left its running state while vCPU thread \(e.tid) was still in KVM_RUN",
                        timeNs: t, device: d.name))
            }
        }
    }

    // MARK: - Exposure

    private func reachable(_ d: DeviceTimeline, region r: UInt32) -> IntervalSet {
        if d.mmapsDisabled.contains(r) { return IntervalSet() }
        var out = IntervalSet()
        for p in processes.values { out = out.union(p.reachable(device: d.name, region: r)) }
        return out
    }

    /// Re-derives which ranges of `d` are exposed, opening and closing gaps and resolving triggers at time `t`.
    private func recompute(_ d: DeviceTimeline, at t: UInt64, trigger: String? = nil) {
        var regions = Set(d.openGaps.keys)
        for p in processes.values { regions.formUnion(p.mappedRegions(device: d.name)) }
        var anyExposed = false
        var anyReachable = false
        var anyReachableRequired = false
        var anyRequired = false
        for r in regions.sorted() where checks(region: r) {
            let reach = reachable(d, region: r)
            let required = d.required(region: r)
            let exposed = reach.intersection(required)
            if !reach.isEmpty { anyReachable = true }
            if !required.isEmpty { anyRequired = true }
            if !required.isEmpty && !reach.isEmpty { anyReachableRequired = true }
            if !exposed.isEmpty {
                anyExposed = true
                if d.openGaps[r] == nil, let b = exposed.bounds {
                    openGapCount += 1
                    d.openGaps[r] = TrapGap(
                        device: d.name, region: r, offset: b.lowerBound, length: b.upperBound - b.lowerBound,
                        startNs: t, endNs: nil, durationNs: 0, cause: d.currentCause, trappedAccesses: 0)
                }
            } else if var gap = d.openGaps.removeValue(forKey: r) {
                openGapCount -= 1
                gap.endNs = t
                gap.durationNs = t - gap.startNs
                gaps.append(gap)
            }
        }
        // Reachability transitions (for lead time and restore latency).
        if d.reachable && !anyReachable { d.lastReachableEnd = t }
        if !d.reachable && anyReachable {
            d.everReachable = true
            if let since = d.restorePendingSince {
                let ev = RestoreEvent(device: d.name, timeNs: since, latencyNs: t - since)
                restores.append(ev)
                restore.record(t - since)
                perDevice(d.name).restore.record(t - since)
                d.restorePendingSince = nil
            }
        }
        if collectSpans {
            // The band shows the requirement whether or not anything is mapped (the safe protocol unmaps first).
            for (r, info) in d.regions where !anyRequired && info.flags & 0x4 != 0 && checks(region: r) {
                if !d.required(region: r).isEmpty { anyRequired = true }
            }
            span(d, .reachable, was: d.reachable, is: anyReachable, at: t)
            span(d, .trapRequired, was: d.trapRequired, is: anyRequired, at: t)
        }
        d.reachable = anyReachable
        d.trapRequired = anyRequired

        if let kind = trigger {
            if anyExposed {
                triggers.append(RemapTrigger(kind: kind, device: d.name, timeNs: t, latencyNs: nil))
                d.pendingTriggers.append(triggers.count - 1)
            } else if let end = d.lastReachableEnd, d.everReachable, !anyReachable {
                // The VMM made the device unreachable before it was asked to: lead time, not a gap.
                triggers.append(RemapTrigger(kind: kind, device: d.name, timeNs: t, latencyNs: -Int64(clamping: t - end)))
                lead.record(t - end)
                perDevice(d.name).lead.record(t - end)
            }
        }
        if d.exposed && !anyExposed {
            resolveTriggers(d, at: t, remapped: !anyReachableRequired)
        }
        d.exposed = anyExposed
    }

    /// Opens or closes the device's span of `kind` when its state changed.
    private func span(_ d: DeviceTimeline, _ kind: DeviceSpan.Kind, was: Bool, is now: Bool, at t: UInt64) {
        if !was && now {
            d.openSpans[kind] = spans.count
            spans.append(DeviceSpan(device: d.name, kind: kind, startNs: t, endNs: nil))
        } else if was && !now, let i = d.openSpans.removeValue(forKey: kind) {
            spans[i].endNs = t
        }
    }

    private func resolveTriggers(_ d: DeviceTimeline, at t: UInt64, remapped: Bool) {
        for i in d.pendingTriggers {
            let start = triggers[i].timeNs
            if remapped {
                triggers[i].latencyNs = Int64(clamping: t - start)
                remap.record(t - start)
                perDevice(d.name).remap.record(t - start)
                if let w = wakeMarks[i], w >= start {
                    triggers[i].wakeupNs = w - start
                    wakeup.record(w - start)
                    perDevice(d.name).wake.record(w - start)
                    if let r = rereadMarks[i], r >= w, r <= t {
                        triggers[i].reevaluationNs = r - w
                        reevaluation.record(r - w)
                        perDevice(d.name).reeval.record(r - w)
                    }
                }
                // Effective from the re-read; where the policy expects none (QEMU's INTx), from the wake-up.
                let effectiveFrom = rereadMarks[i] ?? (policy.expectLayoutReread ? nil : wakeMarks[i])
                if let r = effectiveFrom, r >= start, r <= t {
                    triggers[i].effectiveNs = t - r
                    effective.record(t - r)
                    perDevice(d.name).eff.record(t - r)
                }
            } else {
                unresolved += 1
                perDevice(d.name).unresolved += 1
            }
            wakeMarks[i] = nil
            rereadMarks[i] = nil
        }
        d.pendingTriggers.removeAll()
    }

    private func perDevice(_ name: String) -> DeviceLatency {
        if let l = latencies[name] { return l }
        let l = DeviceLatency()
        latencies[name] = l
        return l
    }

    // MARK: - Result

    /// Records reader damage as findings (call before `finish`).
    public func noteDamage(_ damage: [TraceError]) {
        for d in damage {
            report(Finding(kind: .traceDamage, severity: .error, message: d.description, timeNs: nil, device: nil))
        }
    }

    /// Closes what is still open at the end of the current file and forgets its processes and devices: the next
    /// file is a recording of its own, whose times may even precede this one's. `cut` says the file ended
    /// without its footer or with damage, so what is open ended with the recording, not with the VMM.
    public func endFile(cut: Bool = false) {
        let end = now
        for name in deviceOrder {
            guard let d = devices[name] else { continue }
            for r in d.openGaps.keys.sorted() {
                var gap = d.openGaps[r]!
                gap.endNs = nil
                gap.durationNs = end - gap.startNs
                gaps.append(gap)
            }
            if let s = d.signalAwaitingReread, d.actedSinceSignal {
                noReread(d, since: s)
            } else if let s = d.signalAwaitingReread, policy.expectLayoutReread {
                report(
                    Finding(
                        kind: .openAtTraceEnd, severity: .warning,
                        message:
                            "the trace ends \(DurationText.human(end - s)) after the re-evaluate signal, before any VFIO_DEVICE_GET_REGION_INFO re-read: "
                            + (cut
                                ? "the trace is cut, so what the VMM did next is unknown"
                                : "the recording stopped before the VMM answered, or it never did"),
                        timeNs: s, device: d.name))
            }
            if let s = d.pendingSignals.first {
                report(
                    Finding(
                        kind: .signalNeverConsumed, severity: .warning,
                        message:
                            "\(d.pendingSignals.count) re-evaluate signal(s) never read from the eventfd by the end of the trace"
                            + (cut ? " (the trace is cut)" : ""),
                        timeNs: s, device: d.name))
            }
            unresolved += UInt64(d.pendingTriggers.count)
            perDevice(d.name).unresolved += UInt64(d.pendingTriggers.count)
            for i in d.pendingTriggers {
                wakeMarks[i] = nil
                rereadMarks[i] = nil
            }
            if let state = d.state { finalStates[name] = MigrationStateNames.name(state, protocol: d.migrationProtocol ?? .v2) }
        }
        devices.removeAll()
        processes.removeAll()
        lastProcess = nil
        openGapCount = 0
        latestLeftRunning = nil
        earlyReads.removeAll()
        now = 0
    }

    /// Closes what is still open at the end of the trace and builds the result.
    public func finish(files: [String] = []) -> AnalysisResult {
        if !devices.isEmpty || !processes.isEmpty { endFile() }
        gaps.sort { ($0.startNs, $0.device, $0.region) < ($1.startNs, $1.device, $1.region) }
        for g in gaps {
            let range = "region \(g.region) +0x\(String(g.offset, radix: 16)) len 0x\(String(g.length, radix: 16))"
            let how =
                g.endNs == nil
                ? "still open at the end of the trace (\(DurationText.human(g.durationNs)))" : "for \(DurationText.human(g.durationNs))"
            let over = policy.maxGapNs.map { g.durationNs > $0 } ?? true
            report(
                Finding(
                    kind: .trapGap, severity: over ? .error : .info,
                    message: "\(range) trap-required (\(g.cause)) but guest-reachable \(how)", timeNs: g.startNs, device: g.device))
        }
        let total = remap.summary
        if let limit = policy.maxRemapP99Ns, total.count > 0, total.p99Ns > limit {
            report(
                Finding(
                    kind: .thresholdExceeded, severity: .error,
                    message: "remap latency p99 \(DurationText.human(total.p99Ns)) exceeds the limit \(DurationText.human(limit))", timeNs: nil,
                    device: nil))
        }
        for (kind, n) in findingCounts.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where n > Self.listedPerKind {
            // Counted already; listed so that the report says what it left out.
            findings.append(
                Finding(
                    kind: kind, severity: unlistedSeverity[kind] ?? .info,
                    message: "\(n - Self.listedPerKind) more \(kind.rawValue) findings not listed (\(n) in all)", timeNs: nil, device: nil))
        }
        findings.sort { ($0.timeNs ?? .max, $0.device ?? "", $0.kind.rawValue) < ($1.timeNs ?? .max, $1.device ?? "", $1.kind.rawValue) }
        let phases = ["wakeup": wakeup.summary, "reevaluation": reevaluation.summary, "effective": effective.summary]
        let deviceSummaries = deviceOrder.map { name -> AnalysisResult.Device in
            let p = perDevice(name)
            let mine = gaps.filter { $0.device == name }
            return AnalysisResult.Device(
                device: name, gaps: mine.count, longestGapNs: mine.map(\.durationNs).max() ?? 0,
                remapLatency: .init(
                    total: p.remap.summary,
                    phases: ["wakeup": p.wake.summary, "reevaluation": p.reeval.summary, "effective": p.eff.summary],
                    leadTime: p.lead.summary, unresolved: p.unresolved),
                restoreLatency: p.restore.summary,
                finalState: finalStates[name])
        }
        // Nothing checked: no VFIO device in any file (a wrong pid or file must not pass a CI gate).
        let verdict = errorCount > 0 ? AnalysisResult.fail : deviceOrder.isEmpty ? AnalysisResult.nothingChecked : AnalysisResult.pass
        return AnalysisResult(
            files: files, verdict: verdict, errors: errorCount, warnings: warningCount, events: eventCount, startNs: firstNs,
            endNs: firstNs == nil ? nil : lastNs,
            gaps: gaps, remapLatency: .init(total: total, phases: phases, leadTime: lead.summary, unresolved: unresolved),
            restoreLatency: restore.summary, triggers: triggers, restores: restores, devices: deviceSummaries,
            findings: findings, policy: policy)
    }

    /// Analyzes trace files one after another (each with its own process and fd state) into one result.
    public static func analyze(
        paths: [String], policy: AnalysisPolicy = .default,
        progress: ((_ path: String, _ fraction: Double) -> Void)? = nil
    ) throws -> AnalysisResult {
        try analyzer(paths: paths, policy: policy, progress: progress).finish(files: paths)
    }

    /// The same, with the reachable and trap-required spans for timelines.
    public static func analyzeWithSpans(paths: [String], policy: AnalysisPolicy = .default) throws -> (AnalysisResult, [DeviceSpan]) {
        let a = try analyzer(paths: paths, policy: policy, collectSpans: true)
        return (a.finish(files: paths), a.spans)
    }

    /// An analyzer that has consumed every file.
    static func analyzer(
        paths: [String], policy: AnalysisPolicy, collectSpans: Bool = false, progress: ((_ path: String, _ fraction: Double) -> Void)? = nil
    ) throws -> TraceAnalyzer {
        let analyzer = try TraceAnalyzer(policy: policy)
        analyzer.collectSpans = collectSpans
        // The same file twice (by any path) would count every gap twice.
        try FileIdentity.refuseRepeats(paths, "each file is analyzed once (to compare two runs, use `vfiotrace compare`)")
        for path in paths {
            let reader = try TraceReader(path: path)
            var chunks = 0
            while try reader.nextChunk(visit: { analyzer.consume($0) }) != nil {
                chunks += 1
                if chunks % 16 == 0, let progress, reader.fileSize > 0 {
                    progress(path, Double(reader.compressedBytes + UInt64(reader.chunkCount * 48)) / Double(reader.fileSize))
                }
            }
            analyzer.noteDamage(reader.damage.filter { !($0.code == .truncated && $0.message.hasPrefix("no footer")) || reader.chunkCount == 0 })
            if reader.damage.contains(where: { $0.code == .truncated && $0.message.hasPrefix("no footer") }) {
                analyzer.report(
                    Finding(
                        kind: .traceDamage, severity: .warning,
                        message: "\(path): no footer (recording not closed cleanly); every intact chunk was analyzed",
                        timeNs: nil, device: nil))
            }
            analyzer.endFile(cut: !reader.isIntact)
        }
        return analyzer
    }
}
