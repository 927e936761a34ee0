/// Lanes, track descriptors and the packets, in the order trace processor reads them.
extension PerfettoTraceBuilder {
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
