public import TraceAnalysis

/// JUnit XML for CI systems: per device one test case per check (trap gaps, remap latency, protocol),
/// failures carrying the messages.
public enum JUnitReport {
    public static func render(_ r: AnalysisResult) -> String {
        struct Case { var name: String; var failures: [String] }
        var suites: [(String, [Case])] = []
        for dev in r.devices {
            let gaps = r.gaps.filter { $0.device == dev.device }
            let gapFailures = r.findings.filter { $0.kind == .trapGap && $0.device == dev.device && $0.severity == .error }.map(\.message)
            var latency: [String] = []
            if let limit = r.policy.maxRemapP99Ns, dev.remapLatency.count > 0, dev.remapLatency.p99Ns > limit {
                latency.append("remap latency p99 \(dev.remapLatency.p99Ns) ns exceeds \(limit) ns")
            }
            if dev.remapLatency.unresolved > 0 {
                latency.append("\(dev.remapLatency.unresolved) trigger(s) never followed by the VMM making the device unreachable")
            }
            let protocolFailures = r.findings.filter { $0.kind != .trapGap && $0.device == dev.device && $0.severity == .error }
                .map { "\($0.kind.rawValue): \($0.message)" }
            _ = gaps
            suites.append(
                (
                    dev.device,
                    [
                        Case(name: "trap gaps", failures: gapFailures),
                        Case(name: "remap latency", failures: latency),
                        Case(name: "migration protocol", failures: protocolFailures),
                    ]
                ))
        }
        let traceWide = r.findings.filter { $0.device == nil && $0.severity == .error }.map { "\($0.kind.rawValue): \($0.message)" }
        var traceCases = [Case(name: "trace integrity and thresholds", failures: traceWide)]
        // A trace with no VFIO device checked nothing: a failing case, never a silent pass.
        traceCases.append(
            Case(
                name: "a VFIO device was checked",
                failures: r.checkedNothing
                    ? ["nothing was checked: no VFIO device appears in the trace (a wrong pid or file, or a recording that missed the device setup)"]
                    : []))
        suites.append(("trace", traceCases))

        let total = suites.reduce(0) { $0 + $1.1.count }
        let failed = suites.reduce(0) { $0 + $1.1.filter { !$0.failures.isEmpty }.count }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"vfiotrace\" tests=\"\(total)\" failures=\"\(failed)\">\n"
        for (name, cases) in suites {
            out += "  <testsuite name=\"\(xml(name))\" tests=\"\(cases.count)\" failures=\"\(cases.filter { !$0.failures.isEmpty }.count)\">\n"
            for c in cases {
                out += "    <testcase classname=\"vfiotrace.\(xml(name))\" name=\"\(xml(c.name))\""
                if c.failures.isEmpty {
                    out += "/>\n"
                } else {
                    out +=
                        ">\n      <failure message=\"\(xml(c.failures[0]))\">\(xml(c.failures.joined(separator: "\n")))</failure>\n    </testcase>\n"
                }
            }
            out += "  </testsuite>\n"
        }
        return out + "</testsuites>\n"
    }

    /// XML text/attribute escaping; control characters XML 1.0 cannot carry become spaces, U+FFFE/U+FFFF U+FFFD.
    static func xml(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            default:
                // XML 1.0 carries no C0 controls but tab, nor U+FFFE / U+FFFF.
                if (u.value < 0x20 && u != "\t") || u.value == 0xFFFE || u.value == 0xFFFF {
                    out += u.value < 0x20 ? " " : "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }
}
