#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// Raw fd I/O with EINTR and short-transfer handling; errors carry errno text.
enum FileHandleIO {
    static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

    /// Writes all of `bytes` or throws (ENOSPC, EIO, ...).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(TraceError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TraceError(.io, "write failed: \(errnoText())", path: path)
            }
            done += n
        }
    }

    /// Reads up to `count` bytes at `offset`; fewer only at end of file.
    static func read(_ fd: Int32, into buffer: inout [UInt8], count: Int, at offset: UInt64, path: String) throws(TraceError) -> Int {
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TraceError(.io, "read failed: \(errnoText())", path: path, offset: offset + UInt64(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
