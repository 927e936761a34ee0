public import TraceAnalysis
import TraceFormat

/// The human summary `analyze` prints: verdict, gaps, latency table and findings per device.
public enum AnalysisText {
    /// The summary; `colour` marks the verdict and the severities with ANSI colours (for a terminal).
    public static func render(_ r: AnalysisResult, colour: Bool = false) -> String {
        func paint(_ s: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        var out = ""
        let span = (r.startNs != nil && r.endNs != nil) ? r.endNs! - r.startNs! : 0
        let esc = TerminalText.escaped
        out += "vfiotrace analysis of \(r.files.map(esc).joined(separator: ", ")): \(r.events) events over \(duration(span))\n"
        out += "verdict: " + paint(r.verdict.uppercased(), r.passed ? "1;32" : r.checkedNothing ? "1;33" : "1;31")
        let open = r.gaps.filter { $0.endNs == nil }.count
        out += "  (\(count(r.gaps.count, "trap gap"))\(open > 0 ? ", \(open) still open at the end" : ""), "
        out += "\(count(r.errors, "error")), \(count(r.warnings, "warning")))\n"
        if r.checkedNothing {
            out += "nothing was checked: no VFIO device appears in the trace (a wrong pid or file, or a recording that missed the device setup)\n"
        }
        for dev in r.devices {
            out += "\ndevice \(esc(dev.device))" + (dev.finalState.map { "  (final state \($0))" } ?? "") + "\n"
            let gaps = r.gaps.filter { $0.device == dev.device }
            if gaps.isEmpty {
                out += "  no trap gaps\n"
            } else {
                out += "  trap gaps:\n"
                for g in gaps {
                    let end = g.endNs.map { "\(seconds($0 - (r.startNs ?? 0)))" } ?? "open at end"
                    out += "    region \(g.region) +0x\(String(g.offset, radix: 16)) len 0x\(String(g.length, radix: 16))"
                    out += "  \(seconds(g.startNs - (r.startNs ?? 0))) -> \(end)  \(duration(g.durationNs))  cause \(esc(g.cause))"
                    if g.trappedAccesses > 0 {
                        out += "  (\(count(Int(clamping: g.trappedAccesses), "trapped access", "trapped accesses")) during it)"
                    }
                    out += "\n"
                }
            }
            let l = dev.remapLatency
            if l.count > 0 || l.leadTime.count > 0 || l.unresolved > 0 {
                out += "  remap latency: \(l.count) remapped"
                if l.leadTime.count > 0 { out += ", \(l.leadTime.count) handled ahead (lead time p50 \(duration(l.leadTime.p50Ns)))" }
                if l.unresolved > 0 { out += ", \(l.unresolved) never remapped" }
                out += "\n"
                if l.count > 0 {
                    out += "    " + pad("", 14) + pad("min", 11) + pad("p50", 11) + pad("p90", 11) + pad("p99", 11) + pad("max", 11) + "\n"
                    out += "    " + row("total", l.total)
                    for phase in ["wakeup", "reevaluation", "effective"] {
                        if let p = l.phases[phase], p.count > 0 { out += "    " + row(phaseName(phase), p) }
                    }
                }
            }
            if dev.restoreLatency.count > 0 {
                out +=
                    "  restore latency (left saving state -> reachable again): p50 \(duration(dev.restoreLatency.p50Ns)), max \(duration(dev.restoreLatency.maxNs))\n"
            }
        }
        let others = r.findings.filter { $0.kind != .trapGap }
        if !others.isEmpty {
            out += "\nfindings:\n"
            for f in others {
                let when = f.timeNs.map { seconds($0 - min($0, r.startNs ?? 0)) + " " } ?? ""
                let severity = paint(f.severity.rawValue.uppercased(), f.severity == .error ? "31" : f.severity == .warning ? "33" : "2")
                out += "  \(severity) \(f.kind.rawValue) \(when)\(f.device.map { "[\(esc($0))] " } ?? "")\(esc(f.message))\n"
            }
        }
        return out
    }

    /// What the summary's words mean, one line each (`analyze --explain`; docs/ANALYSIS.md has the definitions).
    public static let glossary = """
        terms:
          trap-required     a device range whose accesses must be trapped now: its migration state, a driver's request
                            (trap.on) or a re-evaluate signal says so
          guest-reachable   a device range the guest can access directly: a VMM mapping under a KVM memslot
          trap gap          an interval during which a range is both: accesses in it are missed by the driver
          trigger           the moment the device started to need traps (state, signal or driver marker)
          remap latency     trigger -> the VMM made the range unreachable (unmap or memslot change), in phases:
            wake-up         trigger -> the VMM read the re-evaluate eventfd
            re-evaluation   wake-up -> the VMM re-read the region's layout (GET_REGION_INFO)
            effective       re-read -> the unmap or memslot change took effect (or the kernel showed it had)
          handled ahead     the VMM had made the device unreachable before the trigger (lead time, no gap)
          never remapped    the requirement ended (or the trace did) before the VMM made the range unreachable
          restore latency   the device left its saving state -> the VMM made it reachable again

        """

    /// A phase as people write it (the JSON keys stay `wakeup`, `reevaluation`, `effective`).
    public static func phaseName(_ key: String) -> String { key == "wakeup" ? "wake-up" : key == "reevaluation" ? "re-evaluation" : key }

    /// "1 error", "2 errors".
    public static func count(_ n: Int, _ one: String, _ many: String? = nil) -> String { "\(n) " + (n == 1 ? one : many ?? one + "s") }

    private static func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(1, n - s.count)) }

    private static func row(_ name: String, _ s: LatencySummary) -> String {
        pad(name, 14) + pad(duration(s.minNs), 11) + pad(duration(s.p50Ns), 11) + pad(duration(s.p90Ns), 11) + pad(duration(s.p99Ns), 11)
            + duration(s.maxNs) + "\n"
    }

    /// 1.23 ms, 56.0 µs, 2.00 s (`DurationText`).
    public static func duration(_ ns: UInt64) -> String { DurationText.human(ns) }

    /// Seconds since the trace start with microsecond precision: +0.001234s.
    static func seconds(_ ns: UInt64) -> String {
        let us = ns / 1000
        let frac = String(us % 1_000_000)
        return "+\(us / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac + "s"
    }
}
