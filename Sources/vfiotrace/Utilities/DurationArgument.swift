import ArgumentParser

/// A duration on the command line, as timeout(1), perf and strace users write them: `250ns`, `500us` (or
/// `µs`), `2ms`, `1.5s`, `5min`, `1h`. A unit is required (`2` could mean anything) except for `0`; `m` is
/// refused as ambiguous (`5min` or `5ms`?); negative values are refused with the reason.
struct DurationArgument: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    var nanoseconds: UInt64

    /// The rule, for every duration option's help.
    static let rule = "a number with a unit: ns, us, ms, s, min, h (e.g. 500us, 2ms, 1.5s); 0 needs none"

    init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    init?(argument: String) {
        guard let ns = try? Self.parse(argument) else { return nil }
        nanoseconds = ns
    }

    /// For `@Option(transform:)`: a duration whose refusal says why.
    static func transform(_ text: String) throws -> DurationArgument { DurationArgument(nanoseconds: try parse(text)) }

    /// `--duration` takes a bare number as seconds, as timeout(1) does.
    static func transformSeconds(_ text: String) throws -> DurationArgument {
        let ns = try parse(text, bareUnit: 1e9)
        // 0 once meant "no limit" here: refused rather than guessed at.
        guard ns > 0 else {
            throw ValidationError("'\(text)': a recording of no time would stop at once; leave --duration out to record until Ctrl-C")
        }
        return DurationArgument(nanoseconds: ns)
    }

    static func parse(_ text: String, bareUnit: Double? = nil) throws(ValidationError) -> UInt64 {
        let t = text.trimmingCharacters(in: " ").lowercased()
        if t.hasPrefix("-") { throw ValidationError("'\(text)': a duration cannot be negative") }
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("min", 60e9), ("s", 1e9), ("h", 3600e9)]
        var number = t
        var scale: Double?
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            number = String(t.dropLast(suffix.count))
            scale = factor
            break
        }
        if scale == nil && t.hasSuffix("m") {
            throw ValidationError("'\(text)': 'm' is ambiguous; write \(t.dropLast())min for minutes or \(t.dropLast())ms for milliseconds")
        }
        guard !number.isEmpty, let v = Double(number), v.isFinite else {
            throw ValidationError("'\(text)' is not a duration: \(rule)")
        }
        guard let factor = scale ?? bareUnit ?? (v == 0 ? 1 : nil) else {
            throw ValidationError("'\(text)' has no unit: write \(number)ms, \(number)us or \(number)s (\(rule))")
        }
        guard v * factor < 1.8e19 else { throw ValidationError("'\(text)' is too long a duration (more than 500 years)") }
        return UInt64((v * factor).rounded())
    }

    static var defaultCompletionKind: CompletionKind { .default }

    var description: String { DurationArgument.format(nanoseconds) }

    /// The form a person reads and this parser takes back: 2ms, 1.5s, 500us, 0.
    static func format(_ ns: UInt64) -> String {
        if ns == 0 { return "0" }
        for (unit, factor) in [("s", UInt64(1_000_000_000)), ("ms", 1_000_000), ("us", 1_000)] where ns >= factor {
            let whole = ns / factor, rest = ns % factor
            if rest == 0 { return "\(whole)\(unit)" }
            var frac = String(rest)
            frac = String(repeating: "0", count: String(factor).count - 1 - frac.count) + frac
            while frac.hasSuffix("0") { frac.removeLast() }
            return "\(whole).\(frac)\(unit)"
        }
        return "\(ns)ns"
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
