/// Durations as people read them, one format wherever a person reads one: `850 ns`, `12.3 µs`, `1.01 ms`,
/// `2.50 s` (three significant digits). Machine formats keep exact nanoseconds.
public enum DurationText {
    public static func human(_ ns: UInt64) -> String {
        if ns < 1_000 { return "\(ns) ns" }
        let (value, unit): (Double, String) =
            ns < 1_000_000 ? (Double(ns) / 1e3, "µs") : ns < 1_000_000_000 ? (Double(ns) / 1e6, "ms") : (Double(ns) / 1e9, "s")
        // Rounding may carry into the next unit's range (999.96 µs): shown as 1000 µs, still exact to 3 digits.
        let digits = value < 10 ? 2 : value < 100 ? 1 : 0
        let scale: Double = digits == 2 ? 100 : digits == 1 ? 10 : 1
        let scaled = (value * scale).rounded()
        guard scaled < 1e15 else { return "\(Int64(clamping: UInt64(ns / 1_000_000_000))) s" }
        var text = String(Int64(scaled))
        if digits > 0 {
            while text.count <= digits { text = "0" + text }
            text.insert(".", at: text.index(text.endIndex, offsetBy: -digits))
        }
        return text + " " + unit
    }
}
