import TraceFormat

/// Where reachability meets requirement: each change re-derives a device's exposure, opening and closing
/// trap gaps, and times the triggers — from the requirement to the moment the device stopped being
/// exposed, phase by phase — and the restores (docs/ANALYSIS.md, "Trap gap", "Remap latency").
final class GapAccounting {
    private let context: AnalysisContext
    private let reachability: ReachabilityTracker

    private(set) var gaps: [TrapGap] = []
    private(set) var triggers: [RemapTrigger] = []
    private(set) var restores: [RestoreEvent] = []
    /// Reachable and trap-required spans per device, collected for timelines only on request.
    var collectSpans = false
    private(set) var spans: [DeviceSpan] = []
    /// The HTML timeline's bounded bands, fed on every recompute when set.
    var bands: TimelineBands?
    /// Number of gaps open across all devices (lets the hot path skip lookups).
    @exclusivity(unchecked) private(set) var openGapCount = 0
    /// Bit r (r < 16): some device has a gap open on region r; `wideOpenGaps`: gaps open on regions 16 and up.
    /// An access to any other region counts nowhere, so it needs no device lookup (a gap left open for the rest
    /// of a trace must not make every access to the other regions pay for one).
    @exclusivity(unchecked) private var openRegions: UInt16 = 0
    @exclusivity(unchecked) private var openPerRegion = [Int](repeating: 0, count: 16)
    @exclusivity(unchecked) private var wideOpenGaps = 0
    /// The device of the latest trapped access (devices live until the end of their file).
    @exclusivity(unchecked) private var lastAccessed: DeviceTimeline?

    private var remap = LatencyRecorder()
    private var wakeup = LatencyRecorder()
    private var reevaluation = LatencyRecorder()
    private var effective = LatencyRecorder()
    private var lead = LatencyRecorder()
    private var restore = LatencyRecorder()
    private var latencies: [String: DeviceLatency] = [:]
    private var unresolved: UInt64 = 0

    init(context: AnalysisContext, reachability: ReachabilityTracker) {
        self.context = context
        self.reachability = reachability
    }

    // MARK: - Marks from the other trackers

    /// A guest access through the trap path while a gap is open on its region (the hot path: most accesses
    /// happen with no gap open anywhere).
    @inline(__always)
    func trappedAccess(_ p: RegionAccess) {
        trappedAccess(device: p.device, region: p.region)
    }

    /// Whether an access to `region` may be counted in some open gap (false: it changes nothing).
    @inline(__always)
    func mayCount(region: Int32) -> Bool {
        region < 16 ? region >= 0 && openRegions & (1 << UInt16(region)) != 0 : wideOpenGaps > 0
    }

    /// The same, from a view's numbers. The device of the previous access is kept: accesses come in runs on one
    /// device, and a name from the same chunk compares by identity, so a gap left open for the rest of a trace
    /// (a lost signal) costs no string hashing per access.
    @inline(__always)
    func trappedAccess(device: String, region: Int32) {
        guard openGapCount > 0, mayCount(region: region) else { return }
        let d: DeviceTimeline
        if let last = lastAccessed, last.name == device {
            d = last
        } else {
            guard let found = context.devices[device] else { return }
            lastAccessed = found
            d = found
        }
        if region < 16 {
            if d.countedRegions & (1 << UInt16(region)) != 0 { d.gapAccesses[Int(region)] &+= 1 }
        } else if !d.openGaps.isEmpty {
            d.openGaps[UInt32(region)]?.trappedAccesses += 1
        }
    }

    /// Pending triggers visited by `markWake` and `markReread`: each trigger once per phase, however many
    /// wake-ups and re-reads it waits through (tests check the bound).
    private(set) var markVisits = 0

    /// The VMM woke up to the pending signals (the wake-up phase of its pending triggers ends here).
    func markWake(_ d: DeviceTimeline, at t: UInt64) {
        let count = d.pendingTriggers.count
        guard d.wakeMarkedTriggers < count else { return }
        markVisits += count - d.wakeMarkedTriggers
        for k in d.wakeMarkedTriggers..<count { d.pendingTriggers[k].wake = t }
        d.wakeMarkedTriggers = count
    }

    /// The VMM re-read the layout (the re-evaluation phase ends here).
    func markReread(_ d: DeviceTimeline, at t: UInt64) {
        let count = d.pendingTriggers.count
        guard d.rereadMarkedTriggers < count else { return }
        markVisits += count - d.rereadMarkedTriggers
        for k in d.rereadMarkedTriggers..<count { d.pendingTriggers[k].reread = t }
        d.rereadMarkedTriggers = count
    }

    // MARK: - Exposure

    /// Re-derives which ranges of `d` are exposed, opening and closing gaps and resolving triggers at time `t`.
    func recompute(_ d: DeviceTimeline, at t: UInt64, trigger: String? = nil) {
        // The regions with a gap open or a mapping, in order.
        var regions = RegionIndexSet()
        for r in d.openGaps.keys { regions.insert(r) }
        reachability.addMappedRegions(d, to: &regions)
        var anyExposed = false
        var anyReachable = false
        var anyRequired = false
        for r in regions where context.checks(region: r) {
            let reach = reachability.reachable(d, region: r)
            let required = d.required(region: r)
            let exposed = reach.intersection(required)
            if !reach.isEmpty { anyReachable = true }
            if !required.isEmpty { anyRequired = true }
            if !exposed.isEmpty {
                anyExposed = true
                if d.openGaps[r] == nil, let b = exposed.bounds {
                    openGapCount += 1
                    noteOpened(region: r, by: 1)
                    d.openGap(
                        TrapGap(
                            device: d.name, region: r, offset: b.lowerBound, length: b.upperBound - b.lowerBound,
                            startNs: t, endNs: nil, durationNs: 0, cause: d.currentCause, trappedAccesses: 0),
                        region: r)
                }
            } else if var gap = d.takeOpenGap(r) {
                openGapCount -= 1
                noteOpened(region: r, by: -1)
                let end = kernelEnd(d, from: gap.startNs, to: t)?.time ?? t
                gap.endNs = end
                gap.durationNs = end - gap.startNs
                gaps.append(gap)
            }
        }
        // Reachability transitions (for lead time and restore latency).
        if d.reachable && !anyReachable { d.lastReachableEnd = t }
        if !d.reachable && anyReachable {
            d.everReachable = true
            if let since = d.restorePendingSince {
                restores.append(RestoreEvent(device: d.name, timeNs: since, latencyNs: t - since))
                restore.record(t - since)
                perDevice(d).restore.record(t - since)
                d.restorePendingSince = nil
            }
        }
        if collectSpans || bands != nil {
            // The band shows the requirement whether or not anything is mapped (the safe protocol unmaps first).
            for (r, info) in d.regions where !anyRequired && info.flags & 0x4 != 0 && context.checks(region: r) {
                if !d.required(region: r).isEmpty { anyRequired = true }
            }
            if collectSpans {
                span(d, .reachable, was: d.reachable, is: anyReachable, at: t)
                span(d, .trapRequired, was: d.trapRequired, is: anyRequired, at: t)
            }
            bands?.observe(
                device: d.name, state: d.state, protocol: d.migrationProtocol, reachable: anyReachable, trapRequired: anyRequired, at: t)
        }
        d.reachable = anyReachable
        d.trapRequired = anyRequired

        if let kind = trigger {
            if anyExposed {
                triggers.append(RemapTrigger(kind: kind, device: d.name, timeNs: t, latencyNs: nil))
                d.pendingTriggers.append(.init(index: triggers.count - 1))
            } else if let end = d.lastReachableEnd, d.everReachable, !anyReachable {
                // The VMM made the device unreachable before it was asked to: lead time, not a gap.
                triggers.append(RemapTrigger(kind: kind, device: d.name, timeNs: t, latencyNs: -Int64(clamping: t - end)))
                lead.record(t - end)
                perDevice(d).lead.record(t - end)
            }
        }
        if !d.exposed && anyExposed {
            // A new exposure: only kernel evidence from now on can end it.
            d.kernelUnmapAt = nil
            d.kernelTrapAt = nil
        }
        if d.exposed && !anyExposed {
            // Exposure ended with the requirement still there: the VMM took the range away (remapped). With
            // no requirement left, it was lifted before the VMM acted (unresolved).
            resolveTriggers(d, at: t, remapped: requiredNow(d))
        }
        d.exposed = anyExposed
    }

    private func noteOpened(region r: UInt32, by n: Int) {
        guard r < 16 else { return wideOpenGaps += n }
        openPerRegion[Int(r)] += n
        if openPerRegion[Int(r)] > 0 { openRegions |= 1 << UInt16(r) } else { openRegions &= ~(1 << UInt16(r)) }
    }

    /// Whether any checked region of `d` requires traps now (mapped or not).
    private func requiredNow(_ d: DeviceTimeline) -> Bool {
        var regions = RegionIndexSet()
        for r in d.regions.keys { regions.insert(r) }
        for r in d.markerRequired.keys { regions.insert(r) }
        for r in d.openGaps.keys { regions.insert(r) }
        reachability.addMappedRegions(d, to: &regions)
        return regions.contains { context.checks(region: $0) && !d.required(region: $0).isEmpty }
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

    /// When the kernel itself showed the exposure ending between `lower` and the VMM's call completing at `t`:
    /// KVM unmapping the host range (during the munmap), or a guest access exiting as MMIO.
    private func kernelEnd(_ d: DeviceTimeline, from lower: UInt64, to t: UInt64) -> (time: UInt64, evidence: String)? {
        var end: (time: UInt64, evidence: String)?
        if let u = d.kernelUnmapAt, u >= lower, u <= t { end = (u, "kvm.unmap_hva_range") }
        // On a tie the unmap is kept.
        if let m = d.kernelTrapAt, m >= lower, m <= t, m < end?.time ?? .max { end = (m, "kvm.mmio") }
        return end
    }

    private func resolveTriggers(_ d: DeviceTimeline, at vmmTime: UInt64, remapped: Bool) {
        guard !d.pendingTriggers.isEmpty else { return }
        let mine = perDevice(d)
        for p in d.pendingTriggers {
            let i = p.index
            let start = triggers[i].timeNs
            // The exposure ended at the kernel's evidence when there is some, else at the VMM's call.
            let evidence = kernelEnd(d, from: start, to: vmmTime)
            let t = evidence?.time ?? vmmTime
            if remapped {
                triggers[i].latencyNs = Int64(clamping: t - start)
                remap.record(t - start)
                mine.remap.record(t - start)
                if let w = p.wake, w >= start {
                    triggers[i].wakeupNs = w - start
                    wakeup.record(w - start)
                    mine.wake.record(w - start)
                    if let r = p.reread, r >= w, r <= t {
                        triggers[i].reevaluationNs = r - w
                        reevaluation.record(r - w)
                        mine.reeval.record(r - w)
                    }
                }
                // Effective from the re-read; where the policy expects none (QEMU's INTx), from the wake-up.
                let effectiveFrom = p.reread ?? (context.policy.expectLayoutReread ? nil : p.wake)
                if let r = effectiveFrom, r >= start, r <= t {
                    triggers[i].effectiveNs = t - r
                    triggers[i].effectiveEvidence = evidence?.evidence
                    effective.record(t - r)
                    mine.eff.record(t - r)
                }
            } else {
                unresolved += 1
                mine.unresolved += 1
            }
        }
        d.pendingTriggers.removeAll()
        d.wakeMarkedTriggers = 0
        d.rereadMarkedTriggers = 0
    }

    /// `d`'s figures (kept on the device: no lookup by name per latency).
    private func perDevice(_ d: DeviceTimeline) -> DeviceLatency {
        if let l = d.latency { return l }
        let l = perDevice(d.name)
        d.latency = l
        return l
    }

    private func perDevice(_ name: String) -> DeviceLatency {
        if let l = latencies[name] { return l }
        let l = DeviceLatency()
        latencies[name] = l
        return l
    }

    // MARK: - Ends

    /// Closes the gaps still open at the end of a file (at its last event) and counts its triggers never resolved.
    func endFile() {
        lastAccessed = nil
        let end = context.now
        bands?.endFile(at: end)
        for name in context.deviceOrder {
            guard let d = context.devices[name] else { continue }
            for r in d.openGaps.keys.sorted() {
                guard var gap = d.gapSoFar(region: r) else { continue }
                gap.endNs = nil
                gap.durationNs = end - gap.startNs
                gaps.append(gap)
            }
            unresolved += UInt64(d.pendingTriggers.count)
            perDevice(d.name).unresolved += UInt64(d.pendingTriggers.count)
            d.pendingTriggers.removeAll()
            d.wakeMarkedTriggers = 0
            d.rereadMarkedTriggers = 0
        }
        openGapCount = 0
        openRegions = 0
        openPerRegion = [Int](repeating: 0, count: 16)
        wideOpenGaps = 0
    }

    /// Reports the gaps in time order, each as a finding (an error unless within the policy's `maxGapNs`).
    func reportGaps(to log: inout FindingLog) {
        gaps.sort { ($0.startNs, $0.device, $0.region) < ($1.startNs, $1.device, $1.region) }
        for g in gaps {
            let over = context.policy.maxGapNs.map { g.durationNs > $0 } ?? true
            log.report(.trapGap, over ? .error : .info, timeNs: g.startNs, device: g.device, message: Self.message(g))
        }
    }

    private static func message(_ g: TrapGap) -> String {
        let range = "region \(g.region) +0x\(String(g.offset, radix: 16)) len 0x\(String(g.length, radix: 16))"
        let how =
            g.endNs == nil
            ? "still open at the end of the trace (\(DurationText.human(g.durationNs)))" : "for \(DurationText.human(g.durationNs))"
        return "\(range) trap-required (\(g.cause)) but guest-reachable \(how)"
    }

    var remapSummary: LatencySummary { remap.summary }

    /// The remap figures; `total`: `remapSummary`, when the caller has it already.
    func remapResult(total: LatencySummary? = nil) -> AnalysisResult.Remap {
        .init(
            total: total ?? remap.summary, phases: ["wakeup": wakeup.summary, "reevaluation": reevaluation.summary, "effective": effective.summary],
            leadTime: lead.summary, unresolved: unresolved)
    }

    var restoreSummary: LatencySummary { restore.summary }

    /// One device's figures.
    func device(_ name: String, finalState: String?) -> AnalysisResult.Device {
        let p = perDevice(name)
        let mine = gaps.filter { $0.device == name }
        return AnalysisResult.Device(
            device: name, gaps: mine.count, longestGapNs: mine.map(\.durationNs).max() ?? 0,
            remapLatency: .init(
                total: p.remap.summary,
                phases: ["wakeup": p.wake.summary, "reevaluation": p.reeval.summary, "effective": p.eff.summary],
                leadTime: p.lead.summary, unresolved: p.unresolved),
            restoreLatency: p.restore.summary,
            finalState: finalState)
    }
}
