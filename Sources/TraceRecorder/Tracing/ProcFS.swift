#if canImport(Glibc)
    import Glibc
#endif

/// Small readers for /proc: thread lists, fd targets, file contents.
package enum ProcFS {
    /// Whole file as text (small /proc files), nil when unreadable.
    package static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
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
}
