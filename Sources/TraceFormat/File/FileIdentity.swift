#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// A file as the kernel knows it (device and inode), so that two paths naming one file are seen as one.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    /// The identity of the file at `path`, or nil when it cannot be stat'ed.
    public init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    /// The first path in `paths` that names a file an earlier path already named (same file by any path),
    /// with that earlier path. Paths that cannot be stat'ed are left to whoever opens them.
    public static func firstRepeat(in paths: [String]) -> (earlier: String, again: String)? {
        var seen: [FileIdentity: String] = [:]
        for path in paths {
            guard let id = FileIdentity(path: path) else { continue }
            if let earlier = seen[id] { return (earlier, path) }
            seen[id] = path
        }
        return nil
    }

    /// `firstRepeat` as the error readers of several files throw: each file is read once.
    public static func refuseRepeats(_ paths: [String], _ why: String) throws(TraceError) {
        guard let (earlier, again) = firstRepeat(in: paths) else { return }
        throw TraceError(.io, (earlier == again ? "given twice: " : "is the same file as \(earlier): ") + why, path: again)
    }
}
