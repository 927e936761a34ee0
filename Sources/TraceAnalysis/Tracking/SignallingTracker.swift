import TraceFormat

/// How the VMM learns that a device's mappings must be re-evaluated: irq bindings, eventfd signals (the
/// kernel's, or a driver's account of them), the VMM's wake-ups (its eventfd reads, or QEMU's own
/// "interrupt handled" report) and its layout re-reads (docs/ANALYSIS.md, "Remap latency").
final class SignallingTracker {
    private let context: AnalysisContext
    /// Per process and eventfd: when a read of a bound re-evaluate eventfd returned with no signal pending.
    /// The write that satisfied it may be seen later (another thread's exit stop).
    private var earlyReads: [Int32: [Int32: UInt64]] = [:]

    /// The policy, kept here (a computed copy from the context would retain its arrays on every event).
    private let policy: AnalysisPolicy

    init(context: AnalysisContext) {
        self.context = context
        policy = context.policy
    }

    // MARK: - Events

    func eventfd(_ p: EventfdOp, _ e: EventHeader, at t: UInt64) {
        guard !e.failed else { return }
        switch p.operation {
        case .create:
            context.existingProcess(e.pid)?.unbind(fd: Int32(truncatingIfNeeded: e.result))
        case .write:
            let proc = context.process(e.pid)
            if !proc.eventfdBindings.isEmpty, let b = proc.eventfdBindings[p.fd] {
                guard policy.reevaluateIrqIndices.contains(b.index) else { return }
                let d = context.device(b.device)
                signal(d, index: b.index, at: t)
                // A read that returned after this write began consumed it, though its exit stop was seen first.
                if let r = earlyReads[e.pid]?[p.fd], e.time <= r {
                    earlyReads[e.pid]?[p.fd] = nil
                    consumed(d, at: t)
                }
            } else {
                proc.noteUnboundWrite(fd: p.fd, at: t)
            }
        case .read:
            // Most eventfd traffic is a VMM's own (MSI-X, ioeventfds) on eventfds bound to no device.
            guard let proc = context.existingProcess(e.pid), !proc.eventfdBindings.isEmpty, let b = proc.eventfdBindings[p.fd],
                policy.reevaluateIrqIndices.contains(b.index)
            else { return }
            let d = context.device(b.device)
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

    func irqBinding(_ p: IrqBinding, pid: Int32) {
        let proc = context.process(pid)
        guard p.flags & IrqBinding.dataEventfd != 0 else {
            if p.flags & IrqBinding.dataNone != 0 && p.count == 0 {
                // Disabling the whole index unbinds its eventfds.
                for (fd, b) in proc.eventfdBindings where b.device == p.device && b.index == p.index { proc.unbind(fd: fd) }
            }
            return
        }
        if policy.reevaluateIrqIndices.contains(p.index), let u = context.device(p.device).unheardSignals.removeValue(forKey: p.index) {
            context.findings.report(
                Finding(
                    kind: .lostSignal, severity: .error,
                    message: "irq index \(p.index) was signalled before any eventfd was bound to it: the VMM cannot see it",
                    timeNs: u.first, device: p.device))
        }
        for fd in p.eventfds where fd >= 0 {
            if let w = proc.unboundWrites.removeValue(forKey: fd), policy.reevaluateIrqIndices.contains(p.index) {
                context.findings.report(
                    Finding(
                        kind: .lostSignal, severity: .error,
                        message: "eventfd \(fd) was signalled before it was bound to irq index \(p.index): the signal was lost",
                        timeNs: w, device: p.device))
            }
            proc.bind(fd: fd, device: p.device, index: p.index, reevaluates: policy.reevaluateIrqIndices.contains(p.index))
        }
        _ = context.device(p.device)
    }

    /// A signal seen from the other side (the kernel's ftrace, a driver's account): `irq.signal`.
    func signalled(device: String, index: UInt32, at t: UInt64) {
        guard policy.reevaluateIrqIndices.contains(index) else { return }
        let d = context.device(device)
        let processes = context.processes.values
        let bound = processes.contains { p in p.eventfdBindings.values.contains { $0.device == device && $0.index == index } }
        // A device already set up when the recorder attached may have been bound before: unknown is not lost.
        let unknown = processes.contains { $0.adoptedDevices.contains(device) }
        guard !bound && !unknown else { return signal(d, index: index, at: t) }
        unheard(d, index: index, at: t)
    }

    /// The driver's own word that a re-evaluate signal had no eventfd to go to (`irq.unbound`).
    func unbound(device: String, index: UInt32, at t: UInt64) {
        guard policy.reevaluateIrqIndices.contains(index) else { return }
        unheard(context.device(device), index: index, at: t)
    }

    /// A re-evaluate signal nobody could hear: lost if the VMM binds the index later (reported then), never
    /// heard if it never does (reported at the end).
    private func unheard(_ d: DeviceTimeline, index: UInt32, at t: UInt64) {
        let u = d.unheardSignals[index]
        d.unheardSignals[index] = (u?.first ?? t, (u?.count ?? 0) + 1)
        // The device still needs its mappings re-evaluated; nobody will be told.
        d.signalActive = true
        d.causeSignal = (index, true)
        d.layoutAfterSignal = [:]
        context.gaps.recompute(d, at: t, trigger: "signal")
    }

    /// The VMM's own report that it handled an interrupt (QEMU's vfio_intx_interrupt, logged right after
    /// it read the eventfd): matched to that read when it came first; else the wake-up itself (a read that
    /// began before this report and arrives later is the same interrupt's), and the signal too when nothing
    /// else saw it (a QEMU log alone). Never a second signal for one interrupt.
    func handled(device: String, index: UInt32, at t: UInt64) {
        guard policy.reevaluateIrqIndices.contains(index) else { return }
        let d = context.device(device)
        if let reads = d.readsAwaitingHandled[index], reads > 0 {
            d.readsAwaitingHandled[index] = reads - 1
            return
        }
        if d.pendingSignals.isEmpty { signal(d, index: index, at: t) }
        consumed(d, at: t)
        d.handledBeforeRead[index] = t
    }

    /// The VMM read the layout back (`GET_REGION_INFO`) after a signal.
    func reread(_ d: DeviceTimeline, _ p: RegionInfo, at t: UInt64) {
        if d.signalActive { d.layoutAfterSignal[p.index] = p }
        d.signalAwaitingReread = nil
        context.gaps.markReread(d, at: t)
    }

    // MARK: - Steps

    private func signal(_ d: DeviceTimeline, index: UInt32, at t: UInt64) {
        if let previous = d.signalAwaitingReread { noReread(d, since: previous) }
        d.signalActive = true
        d.causeSignal = (index, false)
        d.layoutAfterSignal = [:]
        d.pendingSignals.append(t)
        d.signalAwaitingReread = t
        d.actedSinceSignal = false
        context.gaps.recompute(d, at: t, trigger: "signal")
    }

    /// The VMM took the pending signals in (the wake-up phase ends here).
    private func consumed(_ d: DeviceTimeline, at t: UInt64) {
        d.pendingSignals.removeAll()
        context.gaps.markWake(d, at: t)
    }

    func noReread(_ d: DeviceTimeline, since t: UInt64) {
        guard policy.expectLayoutReread else { return }
        context.findings.report(
            Finding(
                kind: .noRegionInfoReread, severity: .error,
                message: "no VFIO_DEVICE_GET_REGION_INFO re-read after the re-evaluate signal: the VMM does not follow the sparse-mmap protocol",
                timeNs: t, device: d.name))
    }

    /// What is still open at the end of a file: a signal never re-read after, signals never read.
    func endFile(cut: Bool) {
        let end = context.now
        for name in context.deviceOrder {
            guard let d = context.devices[name] else { continue }
            if let s = d.signalAwaitingReread, d.actedSinceSignal {
                noReread(d, since: s)
            } else if let s = d.signalAwaitingReread, policy.expectLayoutReread {
                context.findings.report(
                    Finding(
                        kind: .openAtTraceEnd, severity: .warning,
                        message:
                            "the trace ends \(DurationText.human(end - s)) after the re-evaluate signal, before any VFIO_DEVICE_GET_REGION_INFO re-read: "
                            + (cut
                                ? "the trace is cut, so what the VMM did next is unknown"
                                : "the recording stopped before the VMM answered, or it never did"),
                        timeNs: s, device: d.name))
            }
            for (index, u) in d.unheardSignals.sorted(by: { $0.key < $1.key }) {
                context.findings.report(
                    Finding(
                        kind: .reevaluateNotBound, severity: .error,
                        message:
                            "the device asked the VMM \(u.count == 1 ? "once" : "\(u.count) times") to re-evaluate its BAR mappings "
                            + "(irq index \(index)), but the VMM never bound an eventfd to that index: it does not implement "
                            + "the re-evaluation protocol (QEMU binds only the INTx, MSI, MSI-X, ERR and REQ indices), so its "
                            + "mmaps of the BAR stayed guest-reachable while the driver needed traps",
                        timeNs: u.first, device: d.name))
            }
            if let s = d.pendingSignals.first {
                context.findings.report(
                    Finding(
                        kind: .signalNeverConsumed, severity: .warning,
                        message:
                            "\(d.pendingSignals.count) re-evaluate signal(s) never read from the eventfd by the end of the trace"
                            + (cut ? " (the trace is cut)" : ""),
                        timeNs: s, device: d.name))
            }
        }
        earlyReads.removeAll()
    }
}
