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

    init(fd: Int32, bufferLimit: Int = 1 << 16) {
        self.fd = fd
        self.bufferLimit = bufferLimit
        buffer.reserveCapacity(bufferLimit + 1024)
    }

    deinit { flush() }

    func write(_ string: String) {
        var s = string
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count > bufferLimit { flush() }
    }

    func flush() {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, buffer.count - done) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                break  // EPIPE (e.g. `| head`): drop the rest quietly
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// True when the fd is a terminal (progress / live status are shown only then).
    var isTerminal: Bool { isatty(fd) != 0 }
}
