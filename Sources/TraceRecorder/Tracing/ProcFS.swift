#if canImport(Glibc)
    import Glibc
#endif

/// Small readers for /proc: thread lists, fd targets, file contents. Everything read here is the traced
/// process's to shape (its comm, its maps, its cmdline): reads are bounded and numbers parsed without traps.
package enum ProcFS {
    /// Largest /proc or sysfs file the recorder reads whole (a VMM's maps run to some hundred KiB).
    package static let maxFileBytes = 16 << 20

    /// The file's first `limit` bytes as text, nil when unreadable.
    package static func read(_ path: String, limit: Int = maxFileBytes) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let want = min(buf.count, limit - out.count)
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Numeric entries of a /proc directory (tasks, fds).
    package static func numbers(in dir: String) -> [Int32] { entries(in: dir).compactMap { Int32($0) }.sorted() }

    /// Names in a directory, without "." and "..".
    package static func entries(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    /// Inode of the file an fd of `pid` refers to.
    package static func inode(pid: Int32, fd: Int32) -> UInt64? {
        var st = stat()
        return stat("/proc/\(pid)/fd/\(fd)", &st) == 0 ? UInt64(st.st_ino) : nil
    }

    package static func readlink(_ path: String) -> String? {
        var buf = [Int8](repeating: 0, count: 4096)
        let n = Glibc.readlink(path, &buf, 4095)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Threads of a process.
    package static func threads(of pid: Int32) -> [Int32] { numbers(in: "/proc/\(pid)/task") }

    /// (fd, link target) of a process's open fds.
    package static func openFds(of pid: Int32) -> [(fd: Int32, target: String)] {
        numbers(in: "/proc/\(pid)/fd").compactMap { fd in readlink("/proc/\(pid)/fd/\(fd)").map { (fd, $0) } }
    }

    /// /proc/PID/status (or /proc/PID/task/TID/status), parsed; nil when the task does not exist.
    package static func status(pid: Int32, tid: Int32? = nil) -> ProcStatus? {
        let path = tid.map { "/proc/\(pid)/task/\($0)/status" } ?? "/proc/\(pid)/status"
        return read(path, limit: 64 << 10).map(ProcStatus.init(text:))
    }

    /// A task's command name (/proc/PID/comm, at most 15 bytes the task chose itself), without the newline.
    package static func comm(of pid: Int32) -> String? {
        guard let text = read("/proc/\(pid)/comm", limit: 64) else { return nil }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}

/// The fields of /proc/PID/status the recorder acts on. A field that is missing or does not parse is nil.
package struct ProcStatus: Equatable, Sendable {
    /// `State:` letter (R, S, D, T, t, Z, X, …).
    package var state: Character?
    package var tgid: Int32?
    /// `TracerPid:` 0 when untraced.
    package var tracerPid: Int32?
    /// `Kthread: 1` (Linux 6.6+); false when absent.
    package var kernelThread = false

    package init(text: String) {
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters()
            switch line[..<colon] {
            case "State": state = value.first
            case "Tgid": tgid = Int32(value)
            case "TracerPid": tracerPid = Int32(value)
            case "Kthread": kernelThread = value == "1"
            default: continue
            }
        }
    }
}
