public import TraceAnalysis

/// Perfetto's native protobuf trace (opens in ui.perfetto.dev and trace processor): per device a track
/// with child tracks for the migration state, trap gaps, triggers, each remap phase and findings; a flow
/// from each trigger to the remap phase that ended the exposure. Timestamps are the trace's own
/// nanoseconds. Bounded at any trace length: at most `defaultLimit` gaps, state intervals and triggers,
/// the ones worth looking at first, and the trace says what it left out.
public enum PerfettoTraceReport {
    /// Most gaps, state intervals and triggers (each) written by default.
    public static let defaultLimit = 10_000
    /// Longest name or text written, in UTF-8 bytes (a hostile trace's device names and markers are cut there).
    static let maxNameBytes = 256

    /// How many of each kind the trace holds, against how many the analysis had.
    public struct Contents: Sendable, Equatable {
        public var gaps = 0, totalGaps = 0
        public var states = 0, totalStates = 0
        public var triggers = 0, totalTriggers = 0
        public var findings = 0
        public var flows = 0

        /// "11690 gaps, 38838 triggers" style words for what the bound left out; nil when nothing was.
        public var leftOut: String? {
            let parts = [(totalGaps - gaps, "gaps"), (totalStates - states, "state intervals"), (totalTriggers - triggers, "triggers")]
                .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
            return parts.isEmpty ? nil : parts.joined(separator: ", ")
        }
    }

    /// The trace's bytes (a `perfetto.protos.Trace`) and what they hold.
    public static func render(
        _ r: AnalysisResult, states: [PerfettoReport.StateChange], limit: Int = defaultLimit
    ) -> (bytes: [UInt8], contents: Contents) {
        var b = PerfettoTraceBuilder(result: r, states: states, limit: max(0, limit))
        return b.build()
    }
}

/// Selects what fits the bound, lays slices out on non-overlapping tracks and writes the packets.
struct PerfettoTraceBuilder {
    /// The child tracks of a device, in display order.
    enum Kind: Int, CaseIterable {
        case state, gap, trigger, wakeup, reevaluation, effective, finding
        var trackName: String {
            switch self {
            case .state: "migration state"
            case .gap: "trap gaps"
            case .trigger: "triggers"
            case .wakeup: "remap: wake-up"
            case .reevaluation: "remap: re-evaluation"
            case .effective: "remap: trap effective"
            case .finding: "findings"
            }
        }
        var category: String {
            switch self {
            case .state: "state"
            case .gap: "gap"
            case .trigger: "trigger"
            case .wakeup, .reevaluation, .effective: "remap"
            case .finding: "finding"
            }
        }
    }

    /// One slice (end set) or instant (end nil), before it is placed on a track.
    struct Item {
        var device: Int
        var kind: Kind
        var start: UInt64
        var end: UInt64?
        var name: String
        var annotations: [PerfettoDebugAnnotation] = []
        var flowOut: UInt64? = nil
        var flowIn: UInt64? = nil
    }

    let result: AnalysisResult
    let states: [PerfettoReport.StateChange]
    let limit: Int
    var devices: [String] = []
    var deviceIndex: [String: Int] = [:]
    var items: [Item] = []
    var contents = PerfettoTraceReport.Contents()

    init(result: AnalysisResult, states: [PerfettoReport.StateChange], limit: Int) {
        self.result = result
        self.states = states
        self.limit = limit
    }

    /// Perfetto's timestamps are signed 64-bit inside trace processor: a hostile trace's later times are held there.
    static func clamp(_ ns: UInt64) -> UInt64 { min(ns, UInt64(Int64.max)) }

    mutating func device(_ name: String) -> Int {
        if let i = deviceIndex[name] { return i }
        devices.append(name)
        deviceIndex[name] = devices.count - 1
        return devices.count - 1
    }

    mutating func build() -> (bytes: [UInt8], contents: PerfettoTraceReport.Contents) {
        for d in result.devices { _ = device(d.device) }
        let keptGaps = selectGaps()
        let windows = Self.windows(keptGaps)
        selectStates(around: windows)
        selectTriggers(around: windows)
        addFindings()
        return write()
    }

    // MARK: - Selection

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

    // MARK: - Writing

    /// Track ids: device d's own track, and lane l of its child track of kind k.
    static func uuid(device d: Int, kind: Kind? = nil, lane: Int = 0) -> UInt64 {
        (UInt64(d) + 1) << 24 | (kind.map { UInt64($0.rawValue + 1) << 20 | UInt64(lane + 1) } ?? 0)
    }
    static let boundTrack: UInt64 = 1

    /// Cuts a hostile string at `maxNameBytes` on a character boundary.
    static func shortName(_ s: String) -> String {
        guard s.utf8.count > PerfettoTraceReport.maxNameBytes else { return s }
        var out = ""
        for c in s {
            if out.utf8.count + String(c).utf8.count > PerfettoTraceReport.maxNameBytes - 3 { break }
            out.append(c)
        }
        return out + "..."
    }

    mutating func write() -> (bytes: [UInt8], contents: PerfettoTraceReport.Contents) {
        // Slices of one kind may overlap (two regions' gaps, triggers answered by one unmap): each goes on the
        // first lane of its kind that is free by then. Lanes share their name, so the UI shows them as one track.
        var laneEnds: [Int: [UInt64]] = [:]  // (device, kind) key -> each lane's last end
        var placed: [(item: Item, lane: Int)] = []
        let order = items.indices.sorted { (items[$0].start, $0) < (items[$1].start, $1) }
        for i in order {
            let it = items[i]
            let key = it.device * Kind.allCases.count + it.kind.rawValue
            guard let end = it.end else {
                placed.append((it, 0))  // instants nest anywhere
                if laneEnds[key] == nil { laneEnds[key] = [it.start] }
                continue
            }
            var ends = laneEnds[key, default: []]
            if let lane = ends.firstIndex(where: { $0 <= it.start }) {
                ends[lane] = end
                placed.append((it, lane))
            } else {
                ends.append(end)
                placed.append((it, ends.count - 1))
            }
            laneEnds[key] = ends
        }

        var out: [UInt8] = []
        func emit(_ p: PerfettoTracePacket) {
            var p = p
            p.trustedPacketSequenceID = 1
            // Serializing a message of only these fields cannot fail (Swift strings are valid UTF-8).
            let body: [UInt8] = (try? p.serializedBytes()) ?? []
            out.append(0x0A)  // Trace.packet: field 1, length-delimited
            Self.varint(UInt64(body.count), &out)
            out.append(contentsOf: body)
        }
        func track(_ uuid: UInt64, parent: UInt64?, name: String, rank: Int? = nil, description: String? = nil, ordered: Bool = false) {
            var d = PerfettoTrackDescriptor()
            d.uuid = uuid
            if let parent { d.parentUuid = parent }
            d.name = name
            if let rank { d.siblingOrderRank = Int32(rank) }
            if let description { d.description_p = description }
            if ordered { d.childOrdering = .explicit }
            var p = PerfettoTracePacket()
            p.trackDescriptor = d
            emit(p)
        }

        for (d, name) in devices.enumerated() {
            track(Self.uuid(device: d), parent: nil, name: "device " + Self.shortName(name), ordered: true)
            for kind in Kind.allCases {
                let lanes = laneEnds[d * Kind.allCases.count + kind.rawValue]?.count ?? 0
                for lane in 0..<lanes {
                    track(Self.uuid(device: d, kind: kind, lane: lane), parent: Self.uuid(device: d), name: kind.trackName, rank: kind.rawValue)
                }
            }
        }
        let t0 = Self.clamp(result.startNs ?? placed.first?.item.start ?? 0)
        if let leftOut = contents.leftOut {
            let words = "left out by the size bound (\(limit) of each kind kept): \(leftOut)"
            track(Self.boundTrack, parent: nil, name: "vfiotrace: size bound", description: words)
            var e = PerfettoTrackEvent()
            e.type = .instant
            e.trackUuid = Self.boundTrack
            e.name = words
            e.debugAnnotations = [
                .init("gaps_kept", UInt64(contents.gaps)), .init("gaps_total", UInt64(contents.totalGaps)),
                .init("state_intervals_kept", UInt64(contents.states)), .init("state_intervals_total", UInt64(contents.totalStates)),
                .init("triggers_kept", UInt64(contents.triggers)), .init("triggers_total", UInt64(contents.totalTriggers)),
            ]
            var p = PerfettoTracePacket()
            p.timestamp = t0
            p.trackEvent = e
            emit(p)
        }

        // Begin and end events in time order; at equal times an end before a begin, so chained phases and
        // back-to-back states close before the next opens, and a zero-length slice's end after its begin.
        struct Event {
            var ts: UInt64
            var order: Int  // 0 end, 1 instant or begin
            var seq: Int
            var packet: PerfettoTracePacket
        }
        var events: [Event] = []
        events.reserveCapacity(placed.count * 2)
        for (n, (it, lane)) in placed.enumerated() {
            let trackUUID = Self.uuid(device: it.device, kind: it.kind, lane: lane)
            var e = PerfettoTrackEvent()
            e.type = it.end == nil ? .instant : .sliceBegin
            e.trackUuid = trackUUID
            e.name = it.name
            e.categories = [it.kind.category]
            e.debugAnnotations = it.annotations
            if let f = it.flowOut { e.flowIds = [f] }
            if let f = it.flowIn { e.terminatingFlowIds = [f] }
            var p = PerfettoTracePacket()
            p.timestamp = it.start
            p.trackEvent = e
            events.append(Event(ts: it.start, order: 1, seq: 2 * n, packet: p))
            if let end = it.end {
                var e = PerfettoTrackEvent()
                e.type = .sliceEnd
                e.trackUuid = trackUUID
                var p = PerfettoTracePacket()
                p.timestamp = end
                p.trackEvent = e
                // A zero-length slice ends after it began: its end sorts as a begin, after its own begin.
                events.append(Event(ts: end, order: end == it.start ? 1 : 0, seq: 2 * n + 1, packet: p))
            }
        }
        events.sort { ($0.ts, $0.order, $0.seq) < ($1.ts, $1.order, $1.seq) }
        for e in events { emit(e.packet) }
        return (out, contents)
    }

    static func varint(_ v: UInt64, _ out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}

extension PerfettoDebugAnnotation {
    init(_ name: String, _ value: String) {
        self.init()
        self.name = name
        stringValue = value
    }
    init(_ name: String, _ value: UInt64) {
        self.init()
        self.name = name
        uintValue = value
    }
    init(_ name: String, _ value: Bool) {
        self.init()
        self.name = name
        boolValue = value
    }
}
