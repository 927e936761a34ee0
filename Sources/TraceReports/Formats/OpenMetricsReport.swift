import Foundation
public import TraceAnalysis

/// OpenMetrics text: remap and restore latency histograms and gap totals per device, so a fleet can
/// aggregate runs in Prometheus (histograms add up across runs; percentiles would not).
public enum OpenMetricsReport {
    /// Bucket upper bounds in seconds.
    static let buckets: [Double] = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

    public static func render(_ r: AnalysisResult) -> String {
        var out = ""
        func histogram(_ name: String, _ help: String, _ values: [(device: String, ns: UInt64)]) {
            out += "# TYPE \(name) histogram\n# UNIT \(name) seconds\n# HELP \(name) \(help)\n"
            for device in r.devices.map(\.device) {
                let mine = values.filter { $0.device == device }.map { Double($0.ns) / 1e9 }
                let label = "device=\"\(escape(device))\""
                for le in buckets {
                    out += "\(name)_bucket{\(label),le=\"\(number(le))\"} \(mine.filter { $0 <= le }.count)\n"
                }
                out += "\(name)_bucket{\(label),le=\"+Inf\"} \(mine.count)\n"
                out += "\(name)_count{\(label)} \(mine.count)\n"
                out += "\(name)_sum{\(label)} \(number(mine.reduce(0, +)))\n"
            }
        }
        histogram(
            "vfiotrace_remap_latency_seconds", "Trigger to the VMM making the device unreachable.",
            r.triggers.compactMap { t in t.latencyNs.flatMap { $0 >= 0 ? (t.device, UInt64($0)) : nil } })
        histogram(
            "vfiotrace_restore_latency_seconds", "Leaving the saving state to the device being reachable again.",
            r.restores.compactMap { e in e.latencyNs.map { (e.device, $0) } })
        out += "# TYPE vfiotrace_trap_gaps counter\n# HELP vfiotrace_trap_gaps Trap gaps found.\n"
        for dev in r.devices { out += "vfiotrace_trap_gaps_total{device=\"\(escape(dev.device))\"} \(dev.gaps)\n" }
        out += "# TYPE vfiotrace_trap_gap_seconds counter\n# UNIT vfiotrace_trap_gap_seconds seconds\n"
        out += "# HELP vfiotrace_trap_gap_seconds Total time devices were trap-required but guest-reachable.\n"
        for dev in r.devices {
            let total = r.gaps.filter { $0.device == dev.device }.reduce(UInt64(0)) { $0.saturatingAdd($1.durationNs) }
            out += "vfiotrace_trap_gap_seconds_total{device=\"\(escape(dev.device))\"} \(number(Double(total) / 1e9))\n"
        }
        return out + "# EOF\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Plain decimal without exponent noise for small values.
    static func number(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) + ".0" }
        var s = String(format9: v)
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }
}

extension String {
    /// Nine decimals, without Foundation.
    fileprivate init(format9 v: Double) {
        // Seconds from a trace may be anything up to 2^64 ns: past Int64's range, whole seconds only.
        guard abs(v) < 9e9 else {
            self = "\(v.rounded())"
            return
        }
        let scaled = Int64((v * 1e9).rounded())
        let whole = scaled / 1_000_000_000
        let frac = String(abs(scaled % 1_000_000_000))
        self = "\(whole)." + String(repeating: "0", count: 9 - frac.count) + frac
    }
}
