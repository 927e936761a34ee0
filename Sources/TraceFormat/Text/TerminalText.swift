/// Text from a trace or a log made safe for a terminal or a plain-text line: nothing it holds can move
/// the cursor, retitle the window, start a new line or reorder what follows it.
///
/// Control characters are written as strace writes them (`\n`, `\t`, `\r`, `\x1b`), a backslash as `\\`
/// so that an escape cannot be forged, and the Unicode controls that reorder or hide text (C1 controls,
/// bidirectional overrides and isolates, the line and paragraph separators, noncharacters) as `\u{…}`.
public enum TerminalText {
    /// `s` with every character a terminal would act on escaped; printable text passes unchanged.
    public static func escaped(_ s: String) -> String {
        // Fast path: the common case (device names, paths) needs nothing.
        if !s.unicodeScalars.contains(where: needsEscape) { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            guard needsEscape(u) else {
                out.unicodeScalars.append(u)
                continue
            }
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default:
                if u.value < 0x100 {
                    let h = String(u.value, radix: 16)
                    out += "\\x" + (h.count < 2 ? "0" : "") + h
                } else {
                    out += "\\u{" + String(u.value, radix: 16) + "}"
                }
            }
        }
        return out
    }

    /// True when UTF-8 text `u` needs no escaping for the fast reason: ASCII without controls or backslashes (the
    /// common case: names, paths). Other text may still need none; `escaped` decides.
    @inline(__always)
    static func isPlain(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in u where b < 0x20 || b >= 0x7F || b == 0x5C { return false }
        return true
    }

    /// Whether `u` is acted on by a terminal or reorders text, rather than shown as itself.
    @inline(__always)
    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x20 || v == 0x7F || v == 0x5C { return true }
        if v < 0x80 { return false }
        return (0x80...0x9F).contains(v)  // C1 controls (CSI, OSC as single bytes)
            || (0x200E...0x200F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)  // bidi
            || v == 0x2028 || v == 0x2029  // line / paragraph separators
            || (0xFDD0...0xFDEF).contains(v) || v & 0xFFFE == 0xFFFE  // noncharacters
    }
}
