import TraceAnalysis
import TraceFormat

/// Findings grouped by kind, most severe kinds first: a count per kind (every finding, listed or not), the
/// first few shown and the rest of the listed ones behind a toggle.
enum HTMLFindings {
    static let shownPerKind = 5

    struct Group {
        var kind: Finding.Kind
        var severity: Finding.Severity
        var listed: [Finding]
        /// Every finding of the kind, also those the analysis did not list.
        var total: Int
    }

    static func groups(_ r: AnalysisResult) -> [Group] {
        var groups: [Finding.Kind: Group] = [:]
        for f in r.findings {
            var g = groups[f.kind] ?? Group(kind: f.kind, severity: f.severity, listed: [], total: 0)
            g.severity = max(g.severity, f.severity)
            if f.timeNs == nil, let all = unlistedTotal(f.message) {
                g.total = all
            } else {
                g.listed.append(f)
            }
            groups[f.kind] = g
        }
        return groups.values.map { g in
            var g = g
            g.total = max(g.total, g.listed.count)
            return g
        }.sorted { ($1.severity, $0.total, $1.kind.rawValue) < ($0.severity, $1.total, $0.kind.rawValue) }
    }

    /// The analysis' own line for what it left out: "N more KIND findings not listed (M in all)".
    static func unlistedTotal(_ message: String) -> Int? {
        guard message.hasSuffix(" in all)"), let open = message.lastIndex(of: "(") else { return nil }
        return Int(message[message.index(after: open)...].prefix { $0.isNumber })
    }

    static func html(_ r: AnalysisResult, t0: UInt64) -> String {
        let groups = groups(r)
        guard !groups.isEmpty else { return "<p>None.</p>\n" }
        var out = ""
        func rows(_ fs: ArraySlice<Finding>) -> String {
            fs.map { f in
                let when = f.timeNs.map { "+" + DurationText.human($0 - min($0, t0)) } ?? ""
                return
                    "<tr><td>\(HTMLReport.escape(when))</td><td>\(HTMLReport.escape(f.device ?? ""))</td><td>\(HTMLReport.escape(f.message))</td></tr>\n"
            }.joined()
        }
        for g in groups {
            out += "<section class=\"finding-group\"><h3><span class=\"sev \(g.severity.rawValue)\">\(g.severity.rawValue)</span> "
            out += "\(g.kind.rawValue) <span class=\"count\">\(g.total)</span></h3>\n"
            out += "<table><tr><th>time</th><th>device</th><th>message</th></tr>\n" + rows(g.listed.prefix(shownPerKind)) + "</table>\n"
            if g.listed.count > shownPerKind {
                out += "<details><summary>show \(g.listed.count - shownPerKind) more</summary>\n<table>"
                out += rows(g.listed.dropFirst(shownPerKind)) + "</table></details>\n"
            }
            if g.total > g.listed.count {
                out +=
                    "<p class=\"note\">\(g.total - g.listed.count) more not listed by the analysis (it lists \(TraceAnalyzer.listedPerKind) per kind).</p>\n"
            }
            out += "</section>\n"
        }
        return out
    }
}
