import TraceAnalysis

/// What fits the bound: the longest gaps, then the states and triggers around them, then the rest by length.
extension PerfettoTraceBuilder {
    /// The longest gaps, and for each device the spans they cover (to keep the context around them).
    mutating func selectGaps() -> [TrapGap] {
        contents.totalGaps = result.gaps.count
        let kept = result.gaps.enumerated()
            .sorted { ($0.element.durationNs, $1.offset) > ($1.element.durationNs, $0.offset) }
            .prefix(limit).map(\.element)
        for g in kept {
            var a: [PerfettoDebugAnnotation] = [
                .init("cause", Self.shortName(g.cause)), .init("region", UInt64(g.region)), .init("offset", g.offset), .init("length", g.length),
                .init("duration_ns", g.durationNs), .init("trapped_accesses", g.trappedAccesses), .init("open_at_end", g.endNs == nil),
            ]
            if g.endNs == nil { a.append(.init("note", "still open when the trace ended")) }
            let start = Self.clamp(g.startNs)
            items.append(
                Item(
                    device: device(g.device), kind: .gap, start: start, end: max(start, Self.clamp(g.startNs.saturatingAdd(g.durationNs))),
                    name: "TRAP GAP region \(g.region)", annotations: a))
        }
        contents.gaps = kept.count
        return kept
    }

    /// Per device name, the kept gaps' spans sorted by start.
    static func windows(_ gaps: [TrapGap]) -> [String: [(UInt64, UInt64)]] {
        var w: [String: [(UInt64, UInt64)]] = [:]
        for g in gaps { w[g.device, default: []].append((g.startNs, g.startNs.saturatingAdd(g.durationNs))) }
        for (k, v) in w {
            // Merged into disjoint spans, so a lookup is one binary search.
            var merged: [(UInt64, UInt64)] = []
            for s in v.sorted(by: { $0.0 < $1.0 }) {
                if let last = merged.last, s.0 <= last.1 { merged[merged.count - 1].1 = max(last.1, s.1) } else { merged.append(s) }
            }
            w[k] = merged
        }
        return w
    }

    /// Whether [start, end] touches one of the spans.
    static func touches(_ spans: [(UInt64, UInt64)]?, _ start: UInt64, _ end: UInt64) -> Bool {
        guard let spans, !spans.isEmpty else { return false }
        var lo = 0
        var hi = spans.count
        while lo < hi {  // first span ending at or after start
            let mid = (lo + hi) / 2
            if spans[mid].1 < start { lo = mid + 1 } else { hi = mid }
        }
        return lo < spans.count && spans[lo].0 <= end
    }

    /// State intervals (each lasts until the device's next change, or the end of the trace): those around
    /// kept gaps first, then the longest.
    mutating func selectStates(around windows: [String: [(UInt64, UInt64)]]) {
        var byDevice: [String: [PerfettoReport.StateChange]] = [:]
        var order: [String] = []
        for s in states {
            if byDevice[s.device] == nil { order.append(s.device) }
            byDevice[s.device, default: []].append(s)
        }
        let traceEnd = result.endNs ?? 0
        var all: [(device: String, start: UInt64, end: UInt64, state: String)] = []
        for dev in order {
            // In time order (merged or hostile files need not be): the intervals then never overlap.
            let mine = byDevice[dev, default: []].enumerated().sorted { ($0.element.timeNs, $0.offset) < ($1.element.timeNs, $1.offset) }
                .map(\.element)
            for (j, s) in mine.enumerated() {
                let until = j + 1 < mine.count ? mine[j + 1].timeNs : max(traceEnd, s.timeNs)
                all.append((dev, s.timeNs, until, s.state))
            }
        }
        contents.totalStates = all.count
        let ranked = all.indices.map { i in (i, Self.touches(windows[all[i].device], all[i].start, all[i].end), all[i].end - all[i].start) }
            .sorted { ($0.1 ? 1 : 0, $0.2, $1.0) > ($1.1 ? 1 : 0, $1.2, $0.0) }
            .prefix(limit)
        for (i, _, _) in ranked {
            let s = all[i]
            items.append(
                Item(device: device(s.device), kind: .state, start: Self.clamp(s.start), end: Self.clamp(s.end), name: Self.shortName(s.state)))
        }
        contents.states = ranked.count
    }

    /// Triggers around kept gaps first, then the unresolved ones, then the slowest remaps; each with its
    /// remap phases chained from the trigger and a flow to the last phase (where the remap took effect).
    mutating func selectTriggers(around windows: [String: [(UInt64, UInt64)]]) {
        let t = result.triggers
        contents.totalTriggers = t.count
        func done(_ x: RemapTrigger) -> UInt64 { x.latencyNs.map { $0 > 0 ? x.timeNs.saturatingAdd(UInt64($0)) : x.timeNs } ?? x.timeNs }
        func rank(_ x: RemapTrigger) -> Int64 { x.latencyNs ?? .max }
        let ranked = t.indices.map { i in (i, Self.touches(windows[t[i].device], t[i].timeNs, done(t[i]))) }
            .sorted { ($0.1 ? 1 : 0, rank(t[$0.0]), $1.0) > ($1.1 ? 1 : 0, rank(t[$1.0]), $0.0) }
            .prefix(limit)
        for (k, _) in ranked {
            let x = t[k]
            let dev = device(x.device)
            var a: [PerfettoDebugAnnotation] = []
            switch x.latencyNs {
            case nil: a.append(.init("unresolved", true))
            case let l? where l < 0: a.append(.init("lead_ns", l.magnitude))
            case let l?: a.append(.init("latency_ns", UInt64(l)))
            }
            if let e = x.effectiveEvidence { a.append(.init("effective_evidence", Self.shortName(e))) }
            var trigger = Item(device: dev, kind: .trigger, start: Self.clamp(x.timeNs), end: nil, name: Self.shortName(x.kind), annotations: a)
            // Phases as the JSON export chains them: only for a remap that followed the trigger.
            var phases: [Item] = []
            if let latency = x.latencyNs, latency >= 0 {
                var at = x.timeNs
                for (kind, d) in [(Kind.wakeup, x.wakeupNs), (.reevaluation, x.reevaluationNs), (.effective, x.effectiveNs)] {
                    guard let d else { continue }
                    let next = at.saturatingAdd(d)
                    phases.append(
                        Item(
                            device: dev, kind: kind, start: Self.clamp(at), end: Self.clamp(next),
                            name: kind == .wakeup ? "wake-up" : kind == .reevaluation ? "re-evaluation" : "trap effective"))
                    at = next
                }
                // The flow ends where the remap took effect: the last phase, or an instant when no phase was seen.
                let id = UInt64(k) + 1
                trigger.flowOut = id
                if phases.isEmpty {
                    phases.append(
                        Item(device: dev, kind: .effective, start: Self.clamp(done(x)), end: nil, name: "unreachable"))
                }
                phases[phases.count - 1].flowIn = id
                contents.flows += 1
            }
            items.append(trigger)
            items.append(contentsOf: phases)
        }
        contents.triggers = ranked.count
    }

    /// Findings with a time (the analysis already lists at most 100 of a kind).
    mutating func addFindings() {
        for f in result.findings {
            guard let at = f.timeNs, let name = f.device else { continue }
            items.append(
                Item(
                    device: device(name), kind: .finding, start: Self.clamp(at), end: nil, name: f.kind.rawValue,
                    annotations: [.init("severity", f.severity.rawValue), .init("message", Self.shortName(f.message))]))
            contents.findings += 1
        }
    }
}
