#if canImport(Glibc)
    import Glibc
#endif

/// Buffered writes to stdout / stderr without Foundation (dump writes millions of lines).
final class FileHandleStream: TextOutputStream {
    nonisolated(unsafe) static let standardOutput = FileHandleStream(fd: 1)
    nonisolated(unsafe) static let standardError = FileHandleStream(fd: 2, bufferLimit: 0)

    private let fd: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit: Int
    /// Where it writes, for messages; set for files opened by `file(_:)`.
    private(set) var path: String?
    /// The first write error on a file (on stdout a closed pipe is not an error: `| head`).
    private(set) var writeError: Int32?

    init(fd: Int32, bufferLimit: Int = 1 << 16) {
        self.fd = fd
        self.bufferLimit = bufferLimit
        buffer.reserveCapacity(bufferLimit + 1024)
    }

    deinit {
        flush()
        if path != nil { close(fd) }
    }

    /// A new file at `path` (created or truncated).
    static func file(_ path: String) throws -> FileHandleStream {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CommandFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
        let s = FileHandleStream(fd: fd)
        s.path = path
        return s
    }

    /// Flushes, and for a file says whether everything reached it.
    func finish() throws {
        flush()
        if let path, let e = writeError { throw CommandFailure("cannot write \(path): \(String(cString: strerror(e)))", exitCode: 1) }
    }

    func write(_ string: String) {
        var s = string
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count > bufferLimit { flush() }
    }

    /// Bytes formatted elsewhere (dump's `TextBuffer`). A buffer's worth or more with nothing buffered before them
    /// (dump hands over 64 KiB at a time) are written from where they are, not copied into the buffer first.
    func write(bytes: [UInt8]) {
        if buffer.isEmpty && bytes.count >= bufferLimit {
            bytes.withUnsafeBytes { writeAll($0) }
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count > bufferLimit { flush() }
    }

    func flush() {
        buffer.withUnsafeBytes { writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                if path != nil && writeError == nil { writeError = n < 0 ? errno : ENOSPC }
                break  // on stdout, EPIPE (e.g. `| head`): drop the rest quietly
            }
            done += n
        }
    }

    /// True when the fd is a terminal (progress / live status are shown only then).
    var isTerminal: Bool { isatty(fd) != 0 }
}
