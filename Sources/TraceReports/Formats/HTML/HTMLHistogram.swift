import Foundation
import TraceAnalysis
import TraceFormat

/// The remap latency histogram as SVG: two bins per octave on a log time axis, counts on a log axis (a bin of
/// 1 stays visible beside one of 10,000), both axes labelled, and the p50 / p90 / p99 / max markers.
enum HTMLHistogram {
    static func svg(_ r: AnalysisResult) -> String? {
        let latencies = r.triggers.compactMap(\.latencyNs).filter { $0 >= 0 }.map { UInt64($0) }
        guard !latencies.isEmpty else { return nil }
        func bin(_ ns: UInt64) -> Int { ns <= 1 ? 0 : Int((2 * log2(Double(ns))).rounded(.down)) }
        var counts: [Int: Int] = [:]
        for l in latencies { counts[bin(l), default: 0] += 1 }
        let first = counts.keys.min()!
        let last = counts.keys.max()!
        let top = counts.values.max()!
        let (width, height, left, right, topMargin, bottom) = (760.0, 270.0, 64.0, 24.0, 52.0, 48.0)
        let plotW = width - left - right
        let plotH = height - topMargin - bottom
        // Whole decades, so that the time axis always has labelled ticks at both ends.
        let lo = log10(exp2(Double(first) / 2)).rounded(.down)
        let hi = max(lo + 1, log10(exp2(Double(last + 1) / 2)).rounded(.up))
        func x(_ ns: Double) -> Double { left + (log10(max(ns, 1)) - lo) / max(hi - lo, 1e-9) * plotW }
        func y(_ n: Double) -> Double { topMargin + plotH - log10(n + 1) / log10(Double(top) + 1) * plotH }
        func f(_ v: Double) -> String { String(Double((v * 10).rounded()) / 10) }
        var out =
            "<svg class=\"histogram\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"remap latency histogram\">\n"
        // Axes, count ticks at powers of ten.
        out += "<line x1=\"\(f(left))\" x2=\"\(f(left))\" y1=\"\(f(topMargin))\" y2=\"\(f(topMargin + plotH))\" stroke=\"#444\"/>"
        out += "<line x1=\"\(f(left))\" x2=\"\(f(left + plotW))\" y1=\"\(f(topMargin + plotH))\" y2=\"\(f(topMargin + plotH))\" stroke=\"#444\"/>\n"
        var tick = 1
        while tick <= top {
            out += "<line x1=\"\(f(left - 4))\" x2=\"\(f(left))\" y1=\"\(f(y(Double(tick))))\" y2=\"\(f(y(Double(tick))))\" stroke=\"#444\"/>"
            out += "<text class=\"tick\" x=\"\(f(left - 6))\" y=\"\(f(y(Double(tick)) + 4))\" text-anchor=\"end\">\(tick)</text>\n"
            tick *= 10
        }
        out +=
            "<text class=\"axis-title\" transform=\"translate(14,\(f(topMargin + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">triggers (log scale)</text>\n"
        // Time ticks: decades, with 2 and 5 between them when the range is narrow.
        let multipliers: [Double] = hi - lo < 3 ? [1, 2, 5] : [1]
        var decade = pow(10, lo.rounded(.down))
        while log10(decade) <= hi {
            for m in multipliers {
                let v = decade * m
                let lv = log10(v)
                guard lv >= lo - 1e-9, lv <= hi + 1e-9 else { continue }
                out += "<line x1=\"\(f(x(v)))\" x2=\"\(f(x(v)))\" y1=\"\(f(topMargin + plotH))\" y2=\"\(f(topMargin + plotH + 4))\" stroke=\"#444\"/>"
                out +=
                    "<text class=\"tick\" x=\"\(f(x(v)))\" y=\"\(f(topMargin + plotH + 16))\" text-anchor=\"middle\">\(HTMLReport.escape(DurationText.human(UInt64(v))))</text>\n"
            }
            decade *= 10
        }
        out +=
            "<text class=\"axis-title\" x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">remap latency, trigger to unreachable (log scale)</text>\n"
        for k in first...last {
            guard let n = counts[k] else { continue }
            let a = exp2(Double(k) / 2)
            let b = exp2(Double(k + 1) / 2)
            let x0 = x(a) + 0.5
            let w = max(1, x(b) - x(a) - 1)
            out += "<rect class=\"bin\" x=\"\(f(x0))\" y=\"\(f(y(Double(n))))\" width=\"\(f(w))\" height=\"\(f(topMargin + plotH - y(Double(n))))\">"
            out +=
                "<title>\(n) trigger\(n == 1 ? "" : "s") from \(DurationText.human(UInt64(a))) to \(DurationText.human(UInt64(b)))</title></rect>\n"
        }
        // Percentile markers, their labels staggered over three rows so that close ones do not overlap.
        let l = r.remapLatency
        var rows: [Double] = [-1000, -1000, -1000]
        // Equal values share one marker ("p90, p99, max 416 µs").
        var markers: [(names: [String], ns: UInt64)] = []
        for (name, v) in [("p50", l.p50Ns), ("p90", l.p90Ns), ("p99", l.p99Ns), ("max", l.maxNs)] {
            if markers.last?.ns == v { markers[markers.count - 1].names.append(name) } else { markers.append(([name], v)) }
        }
        for (names, v) in markers {
            let px = min(max(x(Double(v)), left), left + plotW)
            let label = "\(names.joined(separator: ", ")) \(DurationText.human(v))"
            let row = rows.indices.first { px - rows[$0] > 110 } ?? 2
            rows[row] = px
            let anchor = px > left + plotW - 60 ? "end" : px < left + 60 ? "start" : "middle"
            out += "<line class=\"pct\" x1=\"\(f(px))\" x2=\"\(f(px))\" y1=\"\(f(12 + Double(row) * 13))\" y2=\"\(f(topMargin + plotH))\"/>"
            out +=
                "<text class=\"pct\" x=\"\(f(px))\" y=\"\(f(10 + Double(row) * 13))\" text-anchor=\"\(anchor)\">\(HTMLReport.escape(label))</text>\n"
        }
        return out + "</svg>\n"
    }
}
