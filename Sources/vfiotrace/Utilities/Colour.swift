#if canImport(Glibc)
    import Glibc
#endif

/// Whether to colour what a person reads: only on a terminal, and never when NO_COLOR is set (no-color.org).
enum Colour {
    static func enabled(for stream: FileHandleStream) -> Bool {
        if let v = getenv("NO_COLOR"), v.pointee != 0 { return false }
        return stream.isTerminal
    }
}
