public import TraceAnalysis
import TraceFormat

/// A Markdown summary for CI step summaries: verdict, gaps, latency percentiles, findings.
public enum MarkdownReport {
    public static func render(_ r: AnalysisResult) -> String {
        let d = AnalysisText.duration
        let verdict = r.passed ? "✅ PASS" : r.checkedNothing ? "⚠️ NOTHING CHECKED" : "❌ FAIL"
        var out = "## vfiotrace: \(verdict)\n\n"
        // File names as escaped text, not code spans: a backtick in a name would end the span.
        out += "\(r.events) events from \(r.files.map(cell).joined(separator: ", ")); "
        out += "\(AnalysisText.count(r.gaps.count, "trap gap")), "
        out += "\(AnalysisText.count(r.errors, "error")), \(AnalysisText.count(r.warnings, "warning")).\n\n"
        if r.checkedNothing {
            out +=
                "**Nothing was checked:** no VFIO device appears in the trace (a wrong pid or file, or a recording that missed the device setup).\n\n"
        }
        out += "### Trap gaps\n\n"
        if r.gaps.isEmpty {
            out += "None.\n\n"
        } else {
            out += "| device | region | range | start | duration | cause | trapped accesses |\n|---|---|---|---|---|---|---|\n"
            for g in r.gaps {
                let start = g.startNs - (r.startNs ?? g.startNs)
                out += "| \(cell(g.device)) | \(g.region) | +0x\(String(g.offset, radix: 16)) len 0x\(String(g.length, radix: 16)) | +\(d(start)) | "
                out += (g.endNs == nil ? "≥ \(d(g.durationNs)) (open at end)" : d(g.durationNs)) + " | \(cell(g.cause)) | \(g.trappedAccesses) |\n"
            }
            out += "\n"
        }
        out += "### Remap latency\n\n"
        out += "| device | count | min | p50 | p90 | p99 | p99.9 | max | lead times | never remapped |\n|---|---|---|---|---|---|---|---|---|---|\n"
        func row(_ name: String, _ l: AnalysisResult.Remap) -> String {
            let s = l.total
            let stats =
                s.count == 0
                ? "| - | - | - | - | - | - " : "| \(d(s.minNs)) | \(d(s.p50Ns)) | \(d(s.p90Ns)) | \(d(s.p99Ns)) | \(d(s.p999Ns)) | \(d(s.maxNs)) "
            return "| \(name) | \(s.count) " + stats + "| \(l.leadTime.count) | \(l.unresolved) |\n"
        }
        for dev in r.devices { out += row(cell(dev.device), dev.remapLatency) }
        if r.devices.count > 1 { out += row("**all**", r.remapLatency) }
        out += "\n"
        if r.remapLatency.count > 0 {
            out += "| phase | p50 | p99 | max |\n|---|---|---|---|\n"
            for phase in ["wakeup", "reevaluation", "effective"] {
                guard let p = r.remapLatency.phases[phase], p.count > 0 else { continue }
                out += "| \(AnalysisText.phaseName(phase)) | \(d(p.p50Ns)) | \(d(p.p99Ns)) | \(d(p.maxNs)) |\n"
            }
            out += "\n"
        }
        let others = r.findings.filter { $0.kind != .trapGap }
        out += "### Findings\n\n"
        if others.isEmpty {
            out += "None.\n"
        } else {
            out += "| severity | kind | device | message |\n|---|---|---|---|\n"
            for f in others {
                out += "| \(f.severity.rawValue) | \(f.kind.rawValue) | \(cell(f.device ?? "")) | \(cell(f.message)) |\n"
            }
        }
        return out
    }

    /// Escapes what would break a table cell or render as Markdown.
    static func cell(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "|": out += "\\|"
            case "\n", "\r", "\u{2028}", "\u{2029}": out += " "
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "*", "_", "`", "[", "]", "\\", "#", "!", "~", "&": out += "\\" + String(c)
            default:
                if c.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                    out += TerminalText.escaped(String(c))
                } else {
                    out.append(c)
                }
            }
        }
        return out
    }
}
