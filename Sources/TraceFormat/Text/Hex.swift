/// Small formatting helpers shared by the text and JSON renderings.
enum Hex {
    static func of<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }

    /// Names of the bits set in `value`, falling back to hex for unknown bits.
    static func flags(_ value: UInt32, _ names: [(UInt32, String)]) -> String {
        if value == 0 { return "0" }
        var rest = value
        var parts: [String] = []
        for (bit, name) in names where value & bit == bit && bit != 0 {
            parts.append(name)
            rest &= ~bit
        }
        if rest != 0 { parts.append(of(rest)) }
        return parts.joined(separator: "|")
    }

    /// Seconds.nanoseconds, as strace -ttt prints wall time but with ns precision.
    static func seconds(_ ns: UInt64) -> String {
        let frac = String(ns % 1_000_000_000)
        return "\(ns / 1_000_000_000)." + String(repeating: "0", count: 9 - frac.count) + frac
    }

    /// Signed duration in seconds with microsecond precision: 0.000123.
    static func duration(_ ns: UInt64) -> String {
        let us = ns / 1000 + (ns % 1000 >= 500 ? 1 : 0)
        let frac = String(us % 1_000_000)
        return "\(us / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }
}
