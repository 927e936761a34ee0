import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Temporary trace files for tests, removed by the caller's `defer`.
enum TraceFiles {
    static func temporaryPath(_ name: String = "t") -> String {
        var template = Array("/tmp/vfiotrace-test-\(name)-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        close(fd)
        return String(cString: template)
    }

    static func write(_ events: [TraceEvent], to path: String, chunkBytes: Int = 1 << 20, close closeIt: Bool = true) throws -> TraceWriter {
        var options = TraceWriter.Options()
        options.maxChunkBytes = chunkBytes
        let w = try TraceWriter(path: path, header: TraceHeader.forThisHost(source: "test", command: ["test"], pids: [1]), options: options)
        for e in events { try w.append(e) }
        if closeIt { try w.close() }
        return w
    }

    static func bytes(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 65536) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    static func store(_ bytes: [UInt8], _ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, bytes.count) }
    }

    /// Reads whatever is readable; never throws for damage inside chunks.
    static func readable(_ path: String) -> (events: [TraceEvent], damage: [TraceError], error: TraceError?) {
        do {
            let r = try TraceReader(path: path)
            let events = try r.readAll()
            return (events, r.damage, nil)
        } catch {
            return ([], [], error)
        }
    }
}
