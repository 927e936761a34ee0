public import TraceAnalysis
import TraceFormat

/// One self-contained HTML page (no network) that reads at any scale: an overview strip of the whole trace
/// with a brush, per device a timeline (migration state, guest-reachable, trap required, trap gaps, triggers,
/// remap phases) with a time axis at every zoom level, the gaps longest first (a click zooms to one and lists
/// the events that made it), the latency histogram and the findings grouped by kind.
///
/// Its size is bounded: past what a page can carry, the bands come aggregated per bucket from `TimelineBands`
/// (filled as the analysis streamed) and the result's gaps, triggers and phases are aggregated on a grid of
/// its own; the script only merges buckets into pixels. Every string from a trace goes through `escape`.
public enum HTMLReport {
    /// Most gaps in the gap list (longest first).
    static let listedGaps = 200

    public static func render(_ r: AnalysisResult, bands: TimelineBands) -> String {
        let data = HTMLTimelineData(r, bands: bands)
        let t0 = data.t0
        let d = DurationText.human
        let table = r.gaps.indices.sorted { (r.gaps[$1].durationNs, r.gaps[$0].startNs) < (r.gaps[$0].durationNs, r.gaps[$1].startNs) }
            .prefix(listedGaps)

        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>vfiotrace report</title>
            <style>\(HTMLAssets.css)</style></head><body>

            """
        let verdict =
            r.passed
            ? "<span class=\"pass\">PASS</span>"
            : r.checkedNothing ? "<span class=\"fail\">NOTHING CHECKED</span>" : "<span class=\"fail\">FAIL</span>"
        html += "<h1>vfiotrace: \(verdict)</h1>\n"
        html += "<p>\(r.events) events from \(r.files.map(escape).joined(separator: ", ")) over \(escape(d(data.span))); "
        html += "\(AnalysisText.count(r.gaps.count, "trap gap")), \(escape(AnalysisText.count(r.errors, "error"))), "
        html += "\(escape(AnalysisText.count(r.warnings, "warning"))).</p>\n"
        html += legend(r, bands)

        html += "<h2>Timeline</h2>\n"
        html += "<p class=\"hint\">Drag across the overview to choose what the timelines show; wheel over a timeline to zoom, drag it to pan; "
        html += "click a gap in the list below to zoom to it. <button type=\"button\" id=\"show-all\">whole trace</button> "
        html += "<button type=\"button\" id=\"show-activity\">migration activity</button> <span id=\"view-text\"></span></p>\n"
        if bands.changes == nil {
            html += "<p class=\"hint\">\(r.events) events: the bands are drawn from per-bucket aggregates (each "
            html += "\(escape(d(bands.bucketWidth))) wide); a shaded bar covers part of its bucket, its tooltip counts what is inside.</p>\n"
        }
        html += "<div class=\"overview\"><svg id=\"overview\" role=\"img\" aria-label=\"overview of the whole trace\"></svg></div>\n"
        for (i, dev) in r.devices.enumerated() {
            html += "<h3>Device \(escape(dev.device))</h3>\n"
            html +=
                "<div class=\"lanes\"><svg class=\"timeline\" data-device=\"\(i)\" role=\"img\" aria-label=\"timeline of \(escape(dev.device))\"></svg></div>\n"
        }

        html += "<h2>Trap gaps, longest first</h2>\n"
        if r.gaps.isEmpty {
            html += "<p>None.</p>\n"
        } else {
            if r.gaps.count > table.count { html += "<p>The \(table.count) longest of \(r.gaps.count).</p>\n" }
            html +=
                "<div class=\"gap-list\"><table class=\"gaps\"><tr><th>#</th><th>device</th><th>region</th><th>cause</th><th>starts at</th><th>duration</th>"
            html += "<th>trapped accesses</th></tr>\n"
            for (row, i) in table.enumerated() {
                let g = r.gaps[i]
                html += "<tr class=\"gap-row\" data-gap=\"\(row)\" tabindex=\"0\"><td>\(row + 1)</td><td>\(escape(g.device))</td>"
                html += "<td>\(g.region) +0x\(String(g.offset, radix: 16)) len 0x\(String(g.length, radix: 16))</td><td>\(escape(g.cause))</td>"
                html += "<td>+\(escape(d(data.rel(g.startNs))))</td><td>\(escape(d(g.durationNs)))\(g.endNs == nil ? " (open at end)" : "")</td>"
                html += "<td>\(g.trappedAccesses)</td></tr>\n"
                html += "<tr class=\"gap-detail\" data-gap=\"\(row)\" hidden><td></td><td colspan=\"6\"><ol>"
                for e in HTMLGapDetail.events(g, r) {
                    let at = e.timeNs >= g.startNs ? "+" + d(e.timeNs - g.startNs) : "−" + d(g.startNs - e.timeNs)
                    html += "<li><span class=\"rel\">\(escape(at))</span> \(escape(e.label))</li>"
                }
                html += "</ol></td></tr>\n"
            }
            html += "</table></div>\n"
        }

        for dev in r.devices {
            html += "<h3>Remap latency of \(escape(dev.device))</h3>\n" + latencyTable(dev.remapLatency, d)
        }
        if let histogram = HTMLHistogram.svg(r) {
            html += "<h2>Remap latency histogram</h2>\n" + histogram
        }
        html += "<h2>All devices</h2>\n" + latencyTable(r.remapLatency, d)
        html += "<h2>Findings</h2>\n" + HTMLFindings.html(r, t0: t0)
        html += "<script type=\"application/json\" id=\"trace-data\">" + data.json(view: activity(r, data), gapTable: Array(table)) + "</script>\n"
        html += "<script>\(HTMLAssets.script)</script>\n</body></html>\n"
        return html
    }

    /// The part of the trace where the migrations happened (triggers, gaps, their remaps, restores), padded;
    /// the whole trace when that is most of it.
    static func activity(_ r: AnalysisResult, _ data: HTMLTimelineData) -> (UInt64, UInt64) {
        var lo = UInt64.max
        var hi: UInt64 = 0
        for g in r.gaps {
            lo = min(lo, g.startNs)
            hi = max(hi, g.startNs.saturatingAdd(g.durationNs))
        }
        for t in r.triggers {
            lo = min(lo, t.timeNs)
            hi = max(hi, t.timeNs.saturatingAdd(UInt64(max(0, t.latencyNs ?? 0))))
        }
        for s in r.restores {
            lo = min(lo, s.timeNs)
            hi = max(hi, s.timeNs.saturatingAdd(s.latencyNs ?? 0))
        }
        guard lo <= hi else { return (0, data.span) }
        let (a, b) = (data.rel(lo), data.rel(hi))
        let pad = max((b - a) / 5, 1000)
        let view = (a > pad ? a - pad : 0, min(data.span, b.saturatingAdd(pad)))
        return view.1 - view.0 > data.span / 2 ? (0, data.span) : view
    }

    /// Colours of the bands and phases (one place: the legend and the script use the same).
    static let stateColors: [String: String] = [
        "RUNNING": "#7cc47c", "RUNNING_P2P": "#2e9c8f", "PRE_COPY": "#f2c14e", "PRE_COPY_P2P": "#b07cd8", "STOP_COPY": "#e8743b",
        "STOP": "#a9a9a9", "RESUMING": "#5b9bd5", "ERROR": "#222222",
    ]
    static let phaseNames = ["wake-up", "re-evaluation", "trap effective"]

    /// Only what occurs in this trace.
    static func legend(_ r: AnalysisResult, _ bands: TimelineBands) -> String {
        var items: [(String, String)] = bands.stateNames.map { ($0, stateColor($0)) }
        if !r.triggers.isEmpty || r.restores.contains(where: { $0.latencyNs != nil }) || bands.stateNames.count > 0 {
            items.append(("guest-reachable", "var(--reach)"))
            items.append(("trap required", "var(--trap)"))
        }
        if !r.gaps.isEmpty { items.append(("trap gap", "var(--gap)")) }
        if !r.triggers.isEmpty { items.append(("trigger", "var(--trigger)")) }
        let phases = [
            r.triggers.contains { $0.wakeupNs != nil }, r.triggers.contains { $0.reevaluationNs != nil },
            r.triggers.contains { $0.effectiveNs != nil },
        ]
        for (k, present) in phases.enumerated() where present { items.append((phaseNames[k], "var(--phase\(k))")) }
        return "<p class=\"legend\">" + items.map { "<span><i style=\"background:\($0.1)\"></i>\(escape($0.0))</span>" }.joined() + "</p>\n"
    }

    /// A state's colour: the named ones fixed, any other (v1 bit combinations, unknown values) from its name.
    static func stateColor(_ name: String) -> String {
        if let c = stateColors[name] { return c }
        var h: UInt32 = 2_166_136_261
        for b in name.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return "hsl(\(h % 360),45%,60%)"
    }

    static func latencyTable(_ l: AnalysisResult.Remap, _ d: (UInt64) -> String) -> String {
        var out = "<table><tr><th></th><th>count</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>\n"
        func row(_ name: String, _ s: LatencySummary) -> String {
            guard s.count > 0 else { return "<tr><td>\(name)</td><td>0</td><td colspan=\"6\">-</td></tr>\n" }
            return "<tr><td>\(name)</td><td>\(s.count)</td><td>\(d(s.minNs))</td><td>\(d(s.p50Ns))</td><td>\(d(s.p90Ns))</td><td>\(d(s.p99Ns))</td>"
                + "<td>\(d(s.p999Ns))</td><td>\(d(s.maxNs))</td></tr>\n"
        }
        out += row("remap total", l.total)
        for p in ["wakeup", "reevaluation", "effective"] { out += row(AnalysisText.phaseName(p), l.phases[p] ?? .empty) }
        out += row("lead time", l.leadTime)
        return out + "</table>\n<p>\(l.unresolved) trigger(s) never remapped.</p>\n"
    }

    /// HTML text escaping for everything that comes from a trace (device names, messages).
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
