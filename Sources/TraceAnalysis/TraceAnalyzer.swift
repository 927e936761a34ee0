public import TraceFormat

/// Rebuilds each device's timeline from a stream of events and finds trap gaps, remap latencies and
/// protocol problems (definitions: docs/ANALYSIS.md).
///
/// A small dispatcher in front of trackers, one per concern (in `Tracking/`): reachability (mappings,
/// memslots, revocations), signalling (irq bindings, eventfds, wake-ups), device state (migration
/// state, layouts, trap requests) and gap accounting (exposure, gaps, latencies), which the other three
/// report each change to.
///
/// Streaming: feed events in file order with `consume(_:)`, then call `finish()`. Memory grows with
/// live state (devices, mappings, memslots) and with what is reported, not with trace length.
public final class TraceAnalyzer {
    public let policy: AnalysisPolicy
    private let context: AnalysisContext
    private let reachability: ReachabilityTracker
    private let signalling: SignallingTracker
    private let deviceState: DeviceStateTracker
    private let accounting: GapAccounting

    /// Each device's migration state at the end of the last file it appeared in.
    private var finalStates: [String: String] = [:]
    @exclusivity(unchecked) public private(set) var eventCount: UInt64 = 0
    /// The trace's span: its earliest and latest times (a sentinel, not an optional, so every event's update is
    /// two branch-free min/max; the span exists once an event did).
    @exclusivity(unchecked) private var earliestNs = UInt64.max
    @exclusivity(unchecked) private var lastNs: UInt64 = 0
    private var firstNs: UInt64? { eventCount > 0 ? earliestNs : nil }

    /// Most findings of one kind listed; the rest are counted.
    public static var listedPerKind: Int { FindingLog.listedPerKind }

    /// Collect `spans` (reachable and trap-required intervals per device) for timelines; off by default,
    /// since they grow with the number of transitions.
    public var collectSpans: Bool {
        get { accounting.collectSpans }
        set { accounting.collectSpans = newValue }
    }
    public var spans: [DeviceSpan] { accounting.spans }
    /// The work of timing pending triggers' phases (tests bound it by the number of triggers).
    var triggerMarkVisits: Int { accounting.markVisits }

    public init(policy: AnalysisPolicy = .default) throws(AnalysisPolicy.Invalid) {
        self.policy = policy
        context = try AnalysisContext(policy: policy)
        reachability = ReachabilityTracker(context: context)
        signalling = SignallingTracker(context: context)
        deviceState = DeviceStateTracker(context: context, signalling: signalling)
        accounting = GapAccounting(context: context, reachability: reachability)
        context.gaps = accounting
    }

    // MARK: - Dispatch

    /// Adds one event; effects take place at the event's completion time (`endTime`), on the analyzer's clock.
    public func consume(_ e: TraceEvent) {
        let h = e.header
        advance(time: h.time, endTime: h.endTime)
        dispatch(e.payload, h)
    }

    /// Adds a batch of events read in place (`TraceReader.nextChunk(batches:)`), with the same effects as `consume(_:)`
    /// of each view in turn, and much of the batch not looked at one event after another.
    ///
    /// Most of a VMM's events change nothing: KVM_RUN ioctls, eventfd traffic on eventfds that re-evaluate nothing,
    /// region accesses while no gap is open (`eventfdQuiet`, `ioctlQuiet`, `regionAccessQuiet`). The batch is taken
    /// 64 events at a time: the events of each common kind in the window are checked in a loop of that kind's own,
    /// over a bit mask of where they are (no branch on the kind per event, which a mixed stream mispredicts), and the
    /// events before the first one that is not quiet are passed over — none of them changes what the next one sees,
    /// so none needs its turn. That event is handled as `consume(_:)` handles it, and the search goes on after it,
    /// under the state it left (a state change every hundred events or so still leaves most events passed over).
    public func consume(_ batch: UnsafeBufferPointer<EventView>) {
        guard let views = batch.baseAddress else { return }
        let count = batch.count
        var earliest = earliestNs
        var last = lastNs
        var kinds = InlineArray<64, UInt8>(repeating: 0)
        var w = 0
        while w < count {
            let end = min(w + 64, count)
            // The window's kinds side by side, then where each common kind is, a bit each, eight kinds a word (no
            // branch per event), and the trace's span.
            // (Two running extremes each, even and odd events, so that no event waits on the one before.)
            var earliest2 = earliest
            var last2 = last
            var j = w
            while j &+ 1 < end {
                let a = views[j]
                let b = views[j &+ 1]
                earliest = min(earliest, min(a.time, a.endTime))
                last = max(last, max(a.time, a.endTime))
                earliest2 = min(earliest2, min(b.time, b.endTime))
                last2 = max(last2, max(b.time, b.endTime))
                kinds[j &- w] = a.kind.rawValue
                kinds[j &+ 1 &- w] = b.kind.rawValue
                j &+= 2
            }
            if j < end {
                let a = views[j]
                earliest = min(earliest, min(a.time, a.endTime))
                last = max(last, max(a.time, a.endTime))
                kinds[j &- w] = a.kind.rawValue
            }
            earliest = min(earliest, earliest2)
            last = max(last, last2)
            for j in (end &- w)..<64 { kinds[j] = 0 }
            var eventfds: UInt64 = 0
            var ioctls: UInt64 = 0
            var accesses: UInt64 = 0
            withUnsafeBytes(of: kinds) { raw in
                for word in 0..<8 {
                    let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: word &* 8, as: UInt64.self))
                    let at = UInt64(word &* 8)
                    eventfds |= Self.bytesEqual(x, EventKind.eventfd.rawValue) &<< at
                    ioctls |= Self.bytesEqual(x, EventKind.ioctl.rawValue) &<< at
                    accesses |= Self.bytesEqual(x, EventKind.regionAccess.rawValue) &<< at
                }
            }
            let n = end &- w
            let others = ~(eventfds | ioctls | accesses) & Self.below(n)
            // From `at` on: the first event that is not quiet — any of another kind, else the first found by kind (each
            // kind's events looked at only before the first found so far); the events before it move the clock only;
            // it is handled; and the search goes on after it, under the state it left.
            var now = context.now
            var at = 0
            while at < n {
                let after = ~Self.below(at)
                var first = n
                if others & after != 0 { first = (others & after).trailingZeroBitCount }
                /// Moves `first` to the first event of `kind` (a mask of where they are) before it that is not quiet.
                @inline(__always) func notQuiet(_ kind: UInt64, _ quiet: (EventView) -> Bool) {
                    var m = kind & after & Self.below(first)
                    while m != 0 {
                        let j = m.trailingZeroBitCount
                        if !quiet(views[w &+ j]) {
                            first = j
                            return
                        }
                        m &= m &- 1
                    }
                }
                notQuiet(eventfds, eventfdQuiet)
                notQuiet(ioctls, ioctlQuiet)
                if accounting.openGapCount > 0 { notQuiet(accesses, regionAccessQuiet) }
                for j in at..<first { now = max(now, views[w &+ j].endTime) }
                guard first < n else { break }
                now = max(now, views[w &+ first].endTime)
                context.now = now
                handle(views[w &+ first])
                now = context.now
                at = first &+ 1
            }
            context.now = now
            w = end
        }
        earliestNs = earliest
        lastNs = last
        eventCount &+= UInt64(count)
    }

    /// The bits below bit `n` (0...64) of a window's masks.
    @inline(__always)
    private static func below(_ n: Int) -> UInt64 { n >= 64 ? .max : (1 &<< UInt64(n)) &- 1 }

    /// Bit i set where byte i of `x` is `k` (of its 8 bytes, byte 0 the lowest).
    @inline(__always)
    private static func bytesEqual(_ x: UInt64, _ k: UInt8) -> UInt64 {
        let y = x ^ (0x0101_0101_0101_0101 &* UInt64(k))
        // High bit of each byte set where the byte is 0 (exact, no carry from one byte into the next).
        let zero = ~(((y & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | y | 0x7F7F_7F7F_7F7F_7F7F)
        return ((zero &>> 7) &* 0x0102_0408_1020_4080) &>> 56
    }

    /// What `handle` does nothing for (conservative: false says only "let `handle` see it"); `handle` asks these
    /// first. Each reads only state that events which are not quiet change, so an event quiet under the state before
    /// it is quiet in its turn while nothing before it in the window changed that state.
    @inline(__always)
    private func eventfdQuiet(_ v: EventView) -> Bool {
        guard let target = v.eventfdTarget else { return false }
        return !target.creates && context.quietEventfd(pid: v.pid, fd: target.fd)
    }

    @inline(__always)
    private func ioctlQuiet(_ v: EventView) -> Bool {
        let request = v.ioctlRequest ?? 0
        return request != 0xAE01 && (request != 0xAE80 || !deviceState.kvmRunMayMatter(startingAt: v.time))
    }

    @inline(__always)
    private func regionAccessQuiet(_ v: EventView) -> Bool {
        guard let region = v.accessedRegion else { return false }
        return accounting.openGapCount == 0 || !accounting.mayCount(region: region)
    }

    /// Adds one event read in place (`TraceReader.nextChunk(views:)`), with the same effects as `consume(_:)`.
    public func consume(_ v: EventView) {
        advance(time: v.time, endTime: v.endTime)
        handle(v)
    }

    /// The kinds that make up most of a VMM's trace (KVM_RUN ioctls, eventfd traffic, trapped region accesses) are
    /// handled from the view's numbers, without building the event, and only the numbers they need are read (a
    /// KVM_RUN's pid, tid and result only where it may span a transition).
    @inline(__always)
    private func handle(_ v: EventView) {
        // Each common kind first asks whether the event is quiet, the very test `consume(_ batch:)` passes events over
        // by: what it passes over is what this does nothing for.
        switch v.kind {
        case .regionAccess:
            // Only counted inside a gap on its region: elsewhere the access changes nothing, and its device
            // (a string) is not even read.
            if !regionAccessQuiet(v), let region = v.accessedRegion, let device = v.accessedDevice {
                accounting.trappedAccess(device: device, region: region)
            }
        case .ioctl:
            guard !ioctlQuiet(v) else { break }
            let request = v.ioctlRequest ?? 0
            if request == 0xAE80 && deviceState.kvmRunMayMatter(startingAt: v.time) { deviceState.kvmRun(v.header) }
            if request == 0xAE01 && !v.failed { reachability.vmCreated(pid: v.pid) }
        case .eventfd:
            // Most eventfd traffic is a VMM's own (MSI-X, ioeventfds) on eventfds bound to indices that
            // re-evaluate nothing: skipped before any lookup.
            guard !eventfdQuiet(v), let p = v.eventfd else { break }
            signalling.eventfd(p, v.header, at: context.now)
        default:
            dispatch(v.payload, v.header)
        }
    }

    @inline(__always) private func advance(time: UInt64, endTime: UInt64) {
        eventCount &+= 1
        // A crafted event may complete before it starts: the trace's span covers both ends.
        earliestNs = min(earliestNs, time, endTime)
        lastNs = max(lastNs, time, endTime)
        context.now = max(context.now, endTime)
    }

    private func dispatch(_ payload: EventPayload, _ e: EventHeader) {
        let t = context.now
        switch payload {
        case .regionAccess(let p):
            accounting.trappedAccess(p)
        case .ioctl(let p):
            if p.request == 0xAE80 { deviceState.kvmRun(e) }
            if p.request == 0xAE01 && !e.failed { reachability.vmCreated(pid: e.pid) }
        case .eventfd(let p):
            signalling.eventfd(p, e, at: t)
        case .mapping(let p):
            if !e.failed { reachability.mapping(p, pid: e.pid, result: e.result, at: t) }
        case .memslot(let p):
            if !e.failed { reachability.memslot(p, pid: e.pid, at: t) }
        case .regionInfo(let p):
            if e.failed { return failed(e, device: p.device, what: "VFIO_DEVICE_GET_REGION_INFO index \(p.index)") }
            deviceState.regionInfo(p, at: t)
        case .irqBinding(let p):
            if e.failed { return failed(e, device: p.device, what: "VFIO_DEVICE_SET_IRQS index \(p.index)") }
            signalling.irqBinding(p, pid: e.pid)
        case .deviceState(let p):
            deviceState.deviceState(p, e, at: t)
        case .vfioIoctl(let p):
            if e.failed { failed(e, device: p.device.isEmpty ? nil : p.device, what: IoctlNames.name(request: p.request, target: p.target)) }
        case .deviceOpen(let p):
            if e.failed { failed(e, device: p.device, what: "VFIO_GROUP_GET_DEVICE_FD \"\(p.device)\"") } else { _ = context.device(p.device) }
        case .marker(let m):
            marker(m, pid: e.pid, at: t)
        case .lost(let l):
            context.findings.report(
                Finding(
                    kind: .lostEvents, severity: .warning,
                    message: "the recorder dropped \(l.count) events; the analysis may miss changes in that interval",
                    timeNs: l.fromNs, device: nil))
        case .process(let p):
            if p.operation == .exit && p.target == e.pid && p.status > 128 && p.status <= 128 + 64 {
                killed(pid: e.pid, signal: p.status - 128, at: t)
            }
            if p.operation == .exec || (p.operation == .exit && p.target == e.pid) { reachability.addressSpaceGone(pid: e.pid, at: t) }
        case .fd(let p):
            if p.kind == .kvmVM && p.operation != .close { reachability.vmCreated(pid: e.pid) }
        case .irqfd:
            break
        }
    }

    /// Markers from other sources (a driver's account, QEMU's trace log, the kernel's ftrace), by name.
    private func marker(_ m: Marker, pid: Int32, at t: UInt64) {
        func number(_ key: String) -> UInt64? { m[key].flatMap(Self.number) }
        // The kernel's KVM events (the BPF backend's) name no device: it is found from their addresses.
        if m.source == "kvm" {
            switch m.name {
            case "kvm.unmap_hva_range":
                guard let start = number("start"), let end = number("end"), start < end else { return }
                reachability.kvmUnmap(pid: pid, range: start..<end, at: t)
            case "kvm.mmio":
                guard let gpa = number("gpa") else { return }
                reachability.kvmMMIO(pid: pid, guestPhys: gpa, at: t)
            case "kvm.memslot_snapshot":
                if m["incomplete"] == nil { reachability.memslotSnapshot(pid: pid, at: t) }
            default:
                break
            }
            return
        }
        guard !m.device.isEmpty else { return }
        switch m.name {
        case "trap.on", "trap.off":
            guard let r = m["region"].flatMap({ UInt32($0) }) else { return }
            deviceState.trapRequest(
                device: m.device, region: r, offset: number("offset") ?? 0, length: number("length"), on: m.name == "trap.on", at: t)
        case "mmap.revoke", "mmap.restore":
            guard let r = m["region"].flatMap({ UInt32($0) }) else { return }
            let offset = number("offset") ?? 0
            let range = number("length").map { Range(start: offset, length: $0) } ?? offset..<UInt64.max
            reachability.revocation(device: m.device, region: r, range: range, revoked: m.name == "mmap.revoke", at: t)
        case "irq.signal":
            guard let index = m["index"].flatMap({ UInt32($0) }) else { return }
            signalling.signalled(device: m.device, index: index, at: t)
        case "irq.unbound":
            guard let index = m["index"].flatMap({ UInt32($0) }) else { return }
            signalling.unbound(device: m.device, index: index, at: t)
        case "irq.handled":
            guard let index = m["index"].flatMap({ UInt32($0) }) else { return }
            signalling.handled(device: m.device, index: index, at: t)
        case "mmaps.enabled":
            guard let r = m["region"].flatMap({ UInt32($0) }) else { return }
            reachability.mmapsEnabled(device: m.device, region: r, enabled: !(m["enabled"] == "0" || m["enabled"] == "false"), at: t)
        default:
            break
        }
    }

    /// A VMM with device mappings killed by a signal: after a driver's revocation, the fault on the revoked
    /// mapping (SIGBUS) is the usual cause — the VMM must handle it, or the driver must make the fault wait.
    private func killed(pid: Int32, signal: Int32, at t: UInt64) {
        guard let proc = context.processes[pid], !proc.mappings.isEmpty else { return }
        let names: [Int32: String] = [6: "SIGABRT", 7: "SIGBUS", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"]
        let name = names[signal] ?? "signal \(signal)"
        for device in Set(proc.mappings.map(\.device)).sorted() {
            let d = context.device(device)
            let revokedSince = d.revokedAt
            context.findings.report(
                Finding(
                    kind: .vmmKilled, severity: .error,
                    message: revokedSince.map {
                        "the VMM (pid \(pid)) was killed by \(name) \(DurationText.human(t >= $0 ? t - $0 : 0)) after the driver revoked its BAR "
                            + "mappings: a fault on a revoked mapping must be handled by the VMM (or made to wait by the driver), "
                            + "else revocation kills the VM"
                    } ?? "the VMM (pid \(pid)) was killed by \(name) while it had this device mapped",
                    timeNs: t, device: device))
        }
    }

    static func number(_ s: String) -> UInt64? {
        s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
    }

    private func failed(_ e: EventHeader, device: String?, what: String) {
        context.findings.report(
            Finding(
                kind: .failedVFIOIoctl, severity: .warning,
                message: "\(what) failed: \(ErrnoNames.name(e.errno ?? 0))", timeNs: context.now, device: device))
    }

    // MARK: - Result

    /// Records reader damage as findings (call before `finish`).
    public func noteDamage(_ damage: [TraceError]) {
        for d in damage {
            context.findings.report(Finding(kind: .traceDamage, severity: .error, message: d.description, timeNs: nil, device: nil))
        }
    }

    /// Closes what is still open at the end of the current file and forgets its processes and devices: the next
    /// file is a recording of its own, whose times may even precede this one's. `cut` says the file ended
    /// without its footer or with damage, so what is open ended with the recording, not with the VMM.
    public func endFile(cut: Bool = false) {
        accounting.endFile()
        signalling.endFile(cut: cut)
        deviceState.endFile()
        for (name, d) in context.devices {
            if let state = d.state { finalStates[name] = MigrationStateNames.name(state, protocol: d.migrationProtocol ?? .v2) }
        }
        context.forgetFile()
    }

    /// Closes what is still open at the end of the trace and builds the result.
    public func finish(files: [String] = []) -> AnalysisResult {
        if !context.devices.isEmpty || !context.processes.isEmpty { endFile() }
        accounting.reportGaps(to: &context.findings)
        let total = accounting.remapSummary
        if let limit = policy.maxRemapP99Ns, total.count > 0, total.p99Ns > limit {
            context.findings.report(
                Finding(
                    kind: .thresholdExceeded, severity: .error,
                    message: "remap latency p99 \(DurationText.human(total.p99Ns)) exceeds the limit \(DurationText.human(limit))", timeNs: nil,
                    device: nil))
        }
        let log = context.findings
        // Nothing checked: no VFIO device in any file (a wrong pid or file must not pass a CI gate).
        let verdict = log.errors > 0 ? AnalysisResult.fail : context.deviceOrder.isEmpty ? AnalysisResult.nothingChecked : AnalysisResult.pass
        return AnalysisResult(
            files: files, verdict: verdict, errors: log.errors, warnings: log.warnings, events: eventCount, startNs: firstNs,
            endNs: firstNs == nil ? nil : lastNs, gaps: accounting.gaps, remapLatency: accounting.remapResult(total: total),
            restoreLatency: accounting.restoreSummary, triggers: accounting.triggers, restores: accounting.restores,
            devices: context.deviceOrder.map { accounting.device($0, finalState: finalStates[$0]) },
            findings: log.result(), policy: policy)
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

    /// The same, feeding the HTML timeline's bands (bounded memory at any trace length) as the analysis streams.
    public static func analyze(
        paths: [String], policy: AnalysisPolicy = .default, bands: TimelineBands,
        progress: ((_ path: String, _ fraction: Double) -> Void)? = nil
    ) throws -> AnalysisResult {
        try analyzer(paths: paths, policy: policy, bands: bands, progress: progress).finish(files: paths)
    }

    /// An analyzer that has consumed every file.
    static func analyzer(
        paths: [String], policy: AnalysisPolicy, collectSpans: Bool = false, bands: TimelineBands? = nil,
        progress: ((_ path: String, _ fraction: Double) -> Void)? = nil
    ) throws -> TraceAnalyzer {
        let analyzer = try TraceAnalyzer(policy: policy)
        analyzer.collectSpans = collectSpans
        analyzer.accounting.bands = bands
        // The same file twice (by any path) would count every gap twice.
        try FileIdentity.refuseRepeats(paths, "each file is analyzed once (to compare two runs, use `vfiotrace compare`)")
        for path in paths {
            let reader = try TraceReader(path: path, prefetch: true)
            var chunks = 0
            while try reader.nextChunk(batches: { analyzer.consume($0) }) != nil {
                chunks += 1
                if chunks % 16 == 0, let progress, reader.fileSize > 0 {
                    progress(path, Double(reader.compressedBytes + UInt64(reader.chunkCount * 48)) / Double(reader.fileSize))
                }
            }
            let noFooter = reader.damage.contains { $0.code == .truncated && $0.message.hasPrefix("no footer") }
            analyzer.noteDamage(reader.damage.filter { !($0.code == .truncated && $0.message.hasPrefix("no footer")) || reader.chunkCount == 0 })
            if noFooter {
                analyzer.context.findings.report(
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
