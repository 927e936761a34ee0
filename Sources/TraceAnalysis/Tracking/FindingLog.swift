/// The findings of an analysis: the first `listedPerKind` of each kind listed, every one counted (a trace of
/// 10,000 lost-event records or gaps must not make a report of 10,000 lines, nor a verdict of fewer errors).
struct FindingLog {
    static let listedPerKind = 100

    private(set) var listed: [Finding] = []
    private var counts: [Finding.Kind: Int] = [:]
    /// The most severe finding per kind among those not listed.
    private var unlistedSeverity: [Finding.Kind: Finding.Severity] = [:]
    private(set) var errors = 0
    private(set) var warnings = 0

    mutating func report(_ f: Finding) {
        report(f.kind, f.severity, timeNs: f.timeNs, device: f.device, message: f.message)
    }

    /// The same, with the message made only if the finding is listed (thousands of gaps need no text each).
    mutating func report(
        _ kind: Finding.Kind, _ severity: Finding.Severity, timeNs: UInt64?, device: String?, message: @autoclosure () -> String
    ) {
        switch severity {
        case .error: errors += 1
        case .warning: warnings += 1
        case .info: break
        }
        let n = counts[kind, default: 0] + 1
        counts[kind] = n
        if n <= Self.listedPerKind {
            listed.append(Finding(kind: kind, severity: severity, message: message(), timeNs: timeNs, device: device))
        } else {
            unlistedSeverity[kind] = max(unlistedSeverity[kind] ?? .info, severity)
        }
    }

    /// The listed findings in time order, then one line per kind saying how many were left out.
    func result() -> [Finding] {
        var out = listed.sorted {
            ($0.timeNs ?? .max, $0.device ?? "", $0.kind.rawValue) < ($1.timeNs ?? .max, $1.device ?? "", $1.kind.rawValue)
        }
        for (kind, n) in counts.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where n > Self.listedPerKind {
            out.append(
                Finding(
                    kind: kind, severity: unlistedSeverity[kind] ?? .info,
                    message: "\(n - Self.listedPerKind) more \(kind.rawValue) findings not listed (\(n) in all)", timeNs: nil, device: nil))
        }
        return out
    }
}
