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
}
