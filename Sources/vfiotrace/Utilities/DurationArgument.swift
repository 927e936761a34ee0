import ArgumentParser

/// A duration on the command line: `500us`, `2ms`, `1.5s`, `250ns`, `3m`; a bare number means milliseconds.
struct DurationArgument: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    var nanoseconds: UInt64

    init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    init?(argument: String) {
        guard let ns = DurationArgument.parse(argument) else { return nil }
        nanoseconds = ns
    }

    static func parse(_ text: String) -> UInt64? {
        let t = text.trimmingCharacters(in: " ").lowercased()
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var number = t
        var scale = 1e6
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            number = String(t.dropLast(suffix.count))
            scale = factor
            break
        }
        guard !number.isEmpty, let v = Double(number), v >= 0, v.isFinite, v * scale < 1.8e19 else { return nil }
        return UInt64((v * scale).rounded())
    }

    static var defaultCompletionKind: CompletionKind { .default }

    var description: String { DurationArgument.format(nanoseconds) }

    /// Human form: 1.234ms, 56us, 2.000s.
    static func format(_ ns: UInt64) -> String {
        if ns >= 1_000_000_000 { return String(format3(Double(ns) / 1e9)) + "s" }
        if ns >= 1_000_000 { return String(format3(Double(ns) / 1e6)) + "ms" }
        if ns >= 1_000 { return String(format3(Double(ns) / 1e3)) + "us" }
        return "\(ns)ns"
    }

    private static func format3(_ v: Double) -> String {
        let scaled = (v * 1000).rounded() / 1000
        var s = "\(scaled)"
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < 3 { s += String(repeating: "0", count: 3 - decimals) }
        }
        return s
    }
}

extension String {
    fileprivate func trimmingCharacters(in c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}
