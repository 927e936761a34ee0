import TraceAnalysis
import TraceFormat

/// The data the page's script draws from, as one JSON object: per device six lanes, each either every
/// interval (`seg`: [start, end, category], nanoseconds from the trace start) or, past what a page should
/// carry, per-bucket aggregates (`b0`, `bw`, per bucket the dominant category `c`, the share of the bucket
/// covered in per mille `w` — at least 1 when anything was there — and a count `n`). The bands come from
/// `TimelineBands` (aggregated as the analysis streamed); gaps, triggers and phases from the result.
struct HTMLTimelineData {
    /// Gaps and triggers drawn one by one up to these counts; aggregated per bucket past them.
    static let exactGaps = 2000
    static let exactTriggers = 5000
    /// Buckets of the grid the result's gaps, triggers and phases are aggregated on.
    static let resultBuckets = 2048

    let r: AnalysisResult
    let bands: TimelineBands
    let t0: UInt64
    let span: UInt64

    init(_ r: AnalysisResult, bands: TimelineBands) {
        self.r = r
        self.bands = bands
        t0 = r.startNs ?? 0
        span = max(1, (r.endNs ?? t0) - t0)
    }

    func rel(_ t: UInt64) -> UInt64 { t >= t0 ? min(t - t0, span) : 0 }

    /// Remap phases of a trigger as (start, end, phase index 0 wake-up, 1 re-evaluation, 2 trap effective).
    static func phases(_ t: RemapTrigger) -> [(UInt64, UInt64, Int)] {
        var out: [(UInt64, UInt64, Int)] = []
        var at = t.timeNs
        for (k, d) in [t.wakeupNs, t.reevaluationNs, t.effectiveNs].enumerated() {
            guard let d else { continue }
            out.append((at, at.saturatingAdd(d), k))
            at = at.saturatingAdd(d)
        }
        return out
    }

    static let triggerKinds = ["state", "signal", "marker"]

    /// The JSON object (strings escaped so that it can sit inside a `<script>` element).
    func json(view: (UInt64, UInt64), gapTable: [Int]) -> String {
        var out = "{\"span\":\(span),\"view\":[\(view.0),\(view.1)],\"states\":["
        out += bands.stateNames.map(Self.quote).joined(separator: ",") + "],\"stateColors\":["
        out += bands.stateNames.map { Self.quote(HTMLReport.stateColor($0)) }.joined(separator: ",") + "],\"devices\":[\n"
        var devs: [String] = []
        for dev in r.devices.map(\.device) {
            var lanes: [String] = []
            lanes.append(contentsOf: bandLanes(dev))
            lanes.append(gapLane(dev))
            lanes.append(triggerLane(dev))
            lanes.append(phaseLane(dev))
            devs.append("{\"name\":\(Self.quote(dev)),\"lanes\":{" + lanes.joined(separator: ",\n") + "}}")
        }
        out += devs.joined(separator: ",\n") + "],\n\"gaps\":["
        out += gapTable.map { i in
            let g = r.gaps[i]
            let dev = r.devices.firstIndex { $0.device == g.device } ?? 0
            let events = HTMLGapDetail.events(g, r).map { "[\(rel($0.timeNs)),\(Self.quote($0.label))]" }.joined(separator: ",")
            return "{\"d\":\(dev),\"s\":\(rel(g.startNs)),\"e\":\(rel(g.startNs.saturatingAdd(g.durationNs))),\"ev\":[\(events)]}"
        }.joined(separator: ",\n")
        return out + "]}"
    }

    // MARK: - Lanes

    /// State, reachable and trap-required: every change, or the bands' buckets.
    private func bandLanes(_ dev: String) -> [String] {
        guard let i = bands.devices.firstIndex(of: dev) else { return [] }
        if let all = bands.changes {
            let changes = all[i]
            var state: [(UInt64, UInt64, Int)] = []
            var reach: [(UInt64, UInt64, Int)] = []
            var trap: [(UInt64, UInt64, Int)] = []
            for (k, c) in changes.enumerated() {
                let end = k + 1 < changes.count ? rel(changes[k + 1].timeNs) : span
                let start = rel(c.timeNs)
                guard end > start else { continue }
                if c.state >= 0 { state.append((start, end, c.state)) }
                if c.reachable { reach.append((start, end, 0)) }
                if c.trapRequired { trap.append((start, end, 0)) }
            }
            // Neighbouring intervals of one band merge (a state change does not split the reachable band).
            return [
                "\"state\":{\"seg\":[\(Self.merged(state))]}", "\"reach\":{\"seg\":[\(Self.merged(reach))]}",
                "\"trap\":{\"seg\":[\(Self.merged(trap))]}",
            ]
        }
        let b = bands.buckets[i]
        let width = bands.bucketWidth
        let b0 = rel(bands.origin ?? t0)
        func share(_ ns: UInt64) -> UInt64 { ns == 0 ? 0 : min(1000, max(1, (ns.saturatingMultiply(1000)) / width)) }
        // Per bucket the state it spent most time in and, as a second band, the next one: a short PRE_COPY in a
        // bucket of RUNNING stays visible.
        var c: [Int] = []
        var w: [UInt64] = []
        var c2: [Int] = []
        var w2: [UInt64] = []
        for k in 0..<bands.bucketCount {
            var best = (-1, UInt64(0))
            var second = (-1, UInt64(0))
            var total: UInt64 = 0
            for s in b.stateNs.indices where b.stateNs[s][k] > 0 {
                let ns = b.stateNs[s][k]
                total &+= ns
                if ns > best.1 {
                    second = best
                    best = (s, ns)
                } else if ns > second.1 {
                    second = (s, ns)
                }
            }
            c.append(best.0)
            w.append(share(total))
            c2.append(second.0)
            w2.append(share(second.1))
        }
        let n = b.changes.map(String.init).joined(separator: ",")
        func lane(_ name: String, _ c: [Int]?, _ w: [UInt64]) -> String {
            "\"\(name)\":{\"b0\":\(b0),\"bw\":\(width)" + (c.map { ",\"c\":[" + $0.map(String.init).joined(separator: ",") + "]" } ?? "")
                + ",\"w\":[" + w.map(String.init).joined(separator: ",") + "],\"n\":[\(n)]}"
        }
        return [
            lane("state", c, w), lane("state2", c2, w2), lane("reach", nil, b.reachableNs.map(share)),
            lane("trap", nil, b.trapRequiredNs.map(share)),
        ]
    }

    /// The grid for the result's own lanes when they are aggregated.
    private var grid: (width: UInt64, count: Int) {
        let width = max(1, (span + UInt64(Self.resultBuckets) - 1) / UInt64(Self.resultBuckets))
        return (width, Int(span / width) + 1)
    }

    /// Adds [s, e) to per-bucket nanoseconds on the result grid.
    private func cover(_ a: inout [UInt64], _ s: UInt64, _ e: UInt64) {
        let (width, count) = grid
        var lo = s
        while lo < e {
            let k = min(count - 1, Int(lo / width))
            let hi = k == count - 1 ? e : min(e, UInt64(k + 1) * width)
            a[k] &+= hi - lo
            lo = hi
        }
    }

    private func bucketLane(_ name: String, c: [Int]?, ns: [UInt64], n: [UInt64]) -> String {
        let width = grid.width
        let w = ns.map { $0 == 0 ? 0 : min(1000, max(1, $0.saturatingMultiply(1000) / width)) }
        return "\"\(name)\":{\"b0\":0,\"bw\":\(width)" + (c.map { ",\"c\":[" + $0.map(String.init).joined(separator: ",") + "]" } ?? "")
            + ",\"w\":[" + w.map(String.init).joined(separator: ",") + "],\"n\":[" + n.map(String.init).joined(separator: ",") + "]}"
    }

    private func gapLane(_ dev: String) -> String {
        let mine = r.gaps.filter { $0.device == dev }
        if r.gaps.count <= Self.exactGaps {
            let seg = mine.map { "[\(rel($0.startNs)),\(rel($0.startNs.saturatingAdd($0.durationNs))),0]" }
            return "\"gap\":{\"seg\":[\(seg.joined(separator: ","))]}"
        }
        var ns = [UInt64](repeating: 0, count: grid.count)
        var n = ns
        for g in mine {
            let s = rel(g.startNs)
            n[min(grid.count - 1, Int(s / grid.width))] += 1
            cover(&ns, s, max(s + 1, rel(g.startNs.saturatingAdd(g.durationNs))))
        }
        return bucketLane("gap", c: nil, ns: ns, n: n)
    }

    private func triggerLane(_ dev: String) -> String {
        let mine = r.triggers.filter { $0.device == dev }
        if r.triggers.count <= Self.exactTriggers {
            let seg = mine.map { "[\(rel($0.timeNs)),\(rel($0.timeNs)),\(Self.triggerKinds.firstIndex(of: $0.kind) ?? 0)]" }
            return "\"trig\":{\"seg\":[\(seg.joined(separator: ","))]}"
        }
        var n = [UInt64](repeating: 0, count: grid.count)
        for t in mine { n[min(grid.count - 1, Int(rel(t.timeNs) / grid.width))] += 1 }
        return bucketLane("trig", c: nil, ns: n.map { $0 > 0 ? grid.width : 0 }, n: n)
    }

    private func phaseLane(_ dev: String) -> String {
        let mine = r.triggers.filter { $0.device == dev }
        if r.triggers.count <= Self.exactTriggers {
            let seg = mine.flatMap(Self.phases).map { "[\(rel($0.0)),\(rel($0.1)),\($0.2)]" }
            return "\"phase\":{\"seg\":[\(seg.joined(separator: ","))]}"
        }
        var per = [[UInt64]](repeating: [UInt64](repeating: 0, count: grid.count), count: 3)
        var n = [UInt64](repeating: 0, count: grid.count)
        for t in mine {
            for (s, e, k) in Self.phases(t) { cover(&per[k], rel(s), max(rel(s) + 1, rel(e))) }
            if t.latencyNs.map({ $0 >= 0 }) == true { n[min(grid.count - 1, Int(rel(t.timeNs) / grid.width))] += 1 }
        }
        var c: [Int] = []
        var ns: [UInt64] = []
        for k in 0..<grid.count {
            let total: UInt64 = per[0][k] &+ per[1][k] &+ per[2][k]
            var best = -1
            var bestNs: UInt64 = 0
            for phase in 0..<3 where per[phase][k] > bestNs { (best, bestNs) = (phase, per[phase][k]) }
            c.append(best)
            // A bucket's share: the union is at most the sum of the phases (they chain, so rarely overlap).
            ns.append(min(grid.width, total))
        }
        return bucketLane("phase", c: c, ns: ns, n: n)
    }

    /// Intervals in time order as JSON, touching intervals of one category joined.
    static func merged(_ seg: [(UInt64, UInt64, Int)]) -> String {
        var out: [(UInt64, UInt64, Int)] = []
        for (a, b, c) in seg {
            if let last = out.last, last.1 == a, last.2 == c { out[out.count - 1].1 = b } else { out.append((a, b, c)) }
        }
        return out.map { "[\($0.0),\($0.1),\($0.2)]" }.joined(separator: ",")
    }

    /// A JSON string that cannot end the `<script>` element it sits in.
    static func quote(_ s: String) -> String {
        var out = ""
        for c in JSONText.quote(s).unicodeScalars {
            switch c {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

extension UInt64 {
    fileprivate func saturatingMultiply(_ m: UInt64) -> UInt64 {
        let (v, o) = multipliedReportingOverflow(by: m)
        return o ? .max : v
    }
}
