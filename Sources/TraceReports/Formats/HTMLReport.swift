public import TraceAnalysis

/// One self-contained HTML page (no network): per device an SVG swimlane timeline (migration state,
/// guest-reachable and trap-required bands, trap gaps in red, triggers and wake-ups as ticks, remap
/// phases), the latency histogram and
/// percentiles, and the findings. Wheel zooms and drag pans the timelines (a few lines of inline script).
public enum HTMLReport {
    public static func render(_ r: AnalysisResult, states: [PerfettoReport.StateChange], spans: [DeviceSpan] = []) -> String {
        let t0 = r.startNs ?? 0
        let span = max(1, (r.endNs ?? t0) - t0)
        let width = 1000.0
        func x(_ ns: UInt64) -> Double { Double(ns >= t0 ? ns - t0 : 0) / Double(span) * width }
        func w(_ ns: UInt64) -> Double { max(0.5, Double(ns) / Double(span) * width) }
        func f(_ v: Double) -> String { String(Int((v * 10).rounded())) == "0" ? "0" : "\(((v * 10).rounded()) / 10)" }
        let d = AnalysisText.duration
        let stateColors: [String: String] = [
            "RUNNING": "#9bd39b", "RUNNING_P2P": "#b8e0b8", "PRE_COPY": "#f5c26b", "PRE_COPY_P2P": "#f7d28f", "STOP_COPY": "#e89a5c",
            "STOP": "#c8c8c8", "RESUMING": "#8fb8e8", "ERROR": "#333333",
        ]

        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>vfiotrace report</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:24px;color:#222}
            h1{font-size:22px} h2{font-size:18px;margin-top:28px} table{border-collapse:collapse;margin:8px 0}
            td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left} th{background:#f3f3f3}
            .pass{color:#1a7f37} .fail{color:#c62828} .lane{font-size:11px;fill:#555}
            svg.timeline{width:100%;height:auto;border:1px solid #ddd;background:#fff;cursor:grab}
            .legend span{display:inline-block;margin-right:12px;font-size:12px}
            .legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
            </style></head><body>

            """
        let verdict =
            r.passed
            ? "<span class=\"pass\">PASS</span>"
            : r.checkedNothing ? "<span class=\"fail\">NOTHING CHECKED</span>" : "<span class=\"fail\">FAIL</span>"
        html += "<h1>vfiotrace: \(verdict)</h1>\n"
        html += "<p>\(r.events) events from \(r.files.map(escape).joined(separator: ", ")) over \(escape(d(span))); "
        html += "\(r.gaps.count) trap gap\(r.gaps.count == 1 ? "" : "s"), \(escape(AnalysisText.count(r.errors, "error"))).</p>\n"
        html += "<p class=\"legend\">"
        for (name, color) in stateColors.sorted(by: { $0.key < $1.key }) { html += "<span><i style=\"background:\(color)\"></i>\(name)</span>" }
        html += "<span><i style=\"background:#4caf50\"></i>guest-reachable</span><span><i style=\"background:#ff9800\"></i>trap required</span>"
        html += "<span><i style=\"background:#d32f2f\"></i>trap gap</span><span><i style=\"background:#1565c0\"></i>trigger</span>"
        html += "<span><i style=\"background:#7b1fa2\"></i>wake-up / re-evaluation / trap effective</span></p>\n"

        for dev in r.devices {
            html += "<h2>Device \(escape(dev.device))</h2>\n"
            let lanes = ["migration state", "guest-reachable", "trap required", "trap gaps", "triggers", "remap phases"]
            let (gapLane, triggerLane, phaseLane) = (3.0, 4.0, 5.0)
            let laneHeight = 26.0, left = 120.0
            let height = Double(lanes.count) * laneHeight + 24
            html +=
                "<svg class=\"timeline\" viewBox=\"0 0 \(f(left + width + 10)) \(f(height))\" data-left=\"\(f(left))\" role=\"img\" aria-label=\"timeline of \(escape(dev.device))\">\n"
            for (i, lane) in lanes.enumerated() {
                html += "<text class=\"lane\" x=\"4\" y=\"\(f(Double(i) * laneHeight + 17))\">\(lane)</text>"
                html +=
                    "<line x1=\"\(f(left))\" x2=\"\(f(left + width))\" y1=\"\(f(Double(i + 1) * laneHeight))\" y2=\"\(f(Double(i + 1) * laneHeight))\" stroke=\"#eee\"/>\n"
            }
            html += "<g class=\"zoom\" transform=\"translate(\(f(left)),0)\">\n"
            let mine = states.filter { $0.device == dev.device }
            for (j, s) in mine.enumerated() {
                let until = j + 1 < mine.count ? mine[j + 1].timeNs : (r.endNs ?? s.timeNs)
                let color = stateColors[s.state] ?? "#dddddd"
                html +=
                    "<rect x=\"\(f(x(s.timeNs)))\" y=\"3\" width=\"\(f(w(until >= s.timeNs ? until - s.timeNs : 0)))\" height=\"20\" fill=\"\(color)\">"
                html += "<title>\(escape(s.state)) from +\(escape(d(s.timeNs - min(s.timeNs, t0))))</title></rect>\n"
            }
            for s in spans where s.device == dev.device {
                let (lane, color, what) = s.kind == .reachable ? (1.0, "#4caf50", "guest-reachable") : (2.0, "#ff9800", "trap required")
                let end = s.endNs ?? (r.endNs ?? s.startNs)
                html +=
                    "<rect x=\"\(f(x(s.startNs)))\" y=\"\(f(lane * laneHeight + 3))\" width=\"\(f(w(end >= s.startNs ? end - s.startNs : 0)))\" height=\"20\" fill=\"\(color)\">"
                html +=
                    "<title>\(what) from +\(escape(d(s.startNs - min(s.startNs, t0))))\(s.endNs == nil ? " to the end" : " for " + escape(d(end - s.startNs)))</title></rect>\n"
            }
            for g in r.gaps where g.device == dev.device {
                html +=
                    "<rect class=\"gap\" x=\"\(f(x(g.startNs)))\" y=\"\(f(gapLane * laneHeight + 3))\" width=\"\(f(w(g.durationNs)))\" height=\"20\" fill=\"#d32f2f\">"
                html +=
                    "<title>trap gap region \(g.region): \(escape(d(g.durationNs)))\(g.endNs == nil ? " (open at end)" : ""), cause \(escape(g.cause))</title></rect>\n"
            }
            for t in r.triggers where t.device == dev.device {
                let tx = x(t.timeNs)
                html +=
                    "<line x1=\"\(f(tx))\" x2=\"\(f(tx))\" y1=\"\(f(triggerLane * laneHeight + 3))\" y2=\"\(f(triggerLane * laneHeight + 23))\" stroke=\"#1565c0\" stroke-width=\"2\">"
                html +=
                    "<title>\(escape(t.kind)) trigger, latency \(t.latencyNs.map { $0 >= 0 ? d(UInt64($0)) : "lead " + d($0.magnitude) } ?? "never remapped")</title></line>\n"
                var at = t.timeNs
                let phaseColors = ["#7b1fa2", "#ab47bc", "#ce93d8"]
                for (k, (name, dur)) in [("wake-up", t.wakeupNs), ("re-evaluation", t.reevaluationNs), ("trap effective", t.effectiveNs)].enumerated()
                {
                    guard let dur else { continue }
                    html +=
                        "<rect x=\"\(f(x(at)))\" y=\"\(f(phaseLane * laneHeight + 3))\" width=\"\(f(w(dur)))\" height=\"20\" fill=\"\(phaseColors[k])\">"
                    html += "<title>\(name): \(escape(d(dur)))</title></rect>\n"
                    if k == 0 {
                        let wx = x(at + dur)
                        html +=
                            "<line x1=\"\(f(wx))\" x2=\"\(f(wx))\" y1=\"\(f(triggerLane * laneHeight + 8))\" y2=\"\(f(triggerLane * laneHeight + 23))\" stroke=\"#7b1fa2\"><title>eventfd read (wake-up)</title></line>\n"
                    }
                    at += dur
                }
            }
            html += "</g></svg>\n"
            html += latencyTable(dev.remapLatency, d)
        }

        // Histogram of resolved remap latencies, log2 buckets.
        let latencies = r.triggers.compactMap { $0.latencyNs }.filter { $0 >= 0 }.map { UInt64($0) }
        if !latencies.isEmpty {
            html += "<h2>Remap latency histogram</h2>\n"
            var buckets: [Int: Int] = [:]
            for l in latencies { buckets[max(0, 63 - l.leadingZeroBitCount), default: 0] += 1 }
            let top = buckets.values.max() ?? 1
            let keys = (buckets.keys.min()!...buckets.keys.max()!)
            html +=
                "<svg viewBox=\"0 0 \(keys.count * 60 + 20) 140\" width=\"\(keys.count * 60 + 20)\" height=\"140\" role=\"img\" aria-label=\"latency histogram\">\n"
            for (i, k) in keys.enumerated() {
                let n = buckets[k] ?? 0
                let h = Double(n) / Double(top) * 100
                html += "<rect x=\"\(i * 60 + 10)\" y=\"\(f(110 - h))\" width=\"50\" height=\"\(f(h))\" fill=\"#1565c0\"><title>\(n)</title></rect>"
                html += "<text x=\"\(i * 60 + 12)\" y=\"125\" font-size=\"10\">≥\(escape(d(UInt64(1) << UInt64(k))))</text>"
                html += "<text x=\"\(i * 60 + 30)\" y=\"\(f(106 - h))\" font-size=\"10\">\(n)</text>\n"
            }
            html += "</svg>\n"
        }
        html += "<h2>All devices</h2>\n" + latencyTable(r.remapLatency, d)
        html += "<h2>Findings</h2>\n"
        if r.findings.isEmpty {
            html += "<p>None.</p>\n"
        } else {
            html += "<table><tr><th>severity</th><th>kind</th><th>time</th><th>device</th><th>message</th></tr>\n"
            for fnd in r.findings {
                let when = fnd.timeNs.map { "+" + d($0 - min($0, t0)) } ?? ""
                html += "<tr><td>\(fnd.severity.rawValue)</td><td>\(fnd.kind.rawValue)</td><td>\(escape(when))</td>"
                html += "<td>\(escape(fnd.device ?? ""))</td><td>\(escape(fnd.message))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += """
            <script>
            // Wheel zooms, drag pans: rescale the timeline group around the pointer.
            document.querySelectorAll('svg.timeline').forEach(function (svg) {
              var g = svg.querySelector('g.zoom'), left = parseFloat(svg.dataset.left), scale = 1, shift = 0, drag = null;
              function apply() { g.setAttribute('transform', 'translate(' + (left + shift) + ',0) scale(' + scale + ',1)'); }
              svg.addEventListener('wheel', function (e) {
                e.preventDefault();
                var pt = svg.createSVGPoint(); pt.x = e.clientX; var px = pt.matrixTransform(svg.getScreenCTM().inverse()).x - left;
                var k = e.deltaY < 0 ? 1.25 : 0.8; var ns = Math.max(1, Math.min(1000, scale * k));
                shift = px - (px - shift) * ns / scale; scale = ns; apply();
              });
              svg.addEventListener('mousedown', function (e) { drag = e.clientX; });
              window.addEventListener('mouseup', function () { drag = null; });
              svg.addEventListener('mousemove', function (e) { if (drag !== null) { shift += (e.clientX - drag); drag = e.clientX; apply(); } });
            });
            </script>
            </body></html>

            """
        return html
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
