import TraceFormat

/// What one process's fds are, as learned from opens, ioctl results and dups.
struct FdTable {
    /// One fd's role and, for devices, which device.
    struct Entry {
        var kind: FdKind
        var device: String = ""
        var path: String = ""
        var cloexec = false
    }

    var entries: [Int32: Entry] = [:]

    subscript(fd: Int32) -> Entry? {
        get { entries[fd] }
        set { entries[fd] = newValue }
    }

    func kind(_ fd: Int32) -> FdKind { entries[fd]?.kind ?? .unknown }

    mutating func close(_ fd: Int32) -> Entry? { entries.removeValue(forKey: fd) }

    /// exec: close-on-exec fds disappear.
    mutating func exec() { entries = entries.filter { !$0.value.cloexec } }

    /// Classifies a path opened by the tracee (or read from /proc/PID/fd).
    static func classify(path: String) -> FdKind { FdKind.classify(path: path) }
}
