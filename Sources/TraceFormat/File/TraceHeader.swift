/// The file header: who wrote the trace, on what host, tracing what, and the clock pair at start.
public struct TraceHeader: Sendable, Hashable {
    public var formatVersion: UInt16
    public var recorderVersion: String
    public var kernelRelease: String
    public var architecture: String
    public var pageSize: UInt32
    /// What produced the events: "record", "simulate", "import-strace", "merge", ...
    public var source: String
    /// The traced command line (launch mode), empty for attach.
    public var command: [String]
    /// The traced pids (attach mode) or the launched child's pid.
    public var pids: [Int32]
    public var startClock: ClockSample

    public init(
        formatVersion: UInt16 = TraceFormat.version, recorderVersion: String = TraceFormat.toolVersion,
        kernelRelease: String = "", architecture: String = "", pageSize: UInt32 = 4096, source: String = "record",
        command: [String] = [], pids: [Int32] = [], startClock: ClockSample = ClockSample(monotonicNs: 0, realtimeNs: 0)
    ) {
        self.formatVersion = formatVersion
        self.recorderVersion = recorderVersion
        self.kernelRelease = kernelRelease
        self.architecture = architecture
        self.pageSize = pageSize
        self.source = source
        self.command = command
        self.pids = pids
        self.startClock = startClock
    }

    /// A header filled with this host's facts and the current clocks.
    public static func forThisHost(source: String, command: [String] = [], pids: [Int32] = []) -> TraceHeader {
        let host = HostInfo.current()
        return TraceHeader(
            kernelRelease: host.kernelRelease, architecture: host.architecture, pageSize: host.pageSize,
            source: source, command: command, pids: pids, startClock: .now())
    }

    // Tags of the header's TLV fields (docs/FORMAT.md). Unknown tags are skipped by readers.
    enum Tag: UInt64 {
        case recorderVersion = 1, kernelRelease = 2, architecture = 3, pageSize = 4, source = 5
        case command = 6, pids = 7, startClock = 8
    }

    func encodeBody() -> [UInt8] {
        var w = ByteWriter()
        func field(_ tag: Tag, _ build: (inout ByteWriter) -> Void) {
            var f = ByteWriter()
            build(&f)
            w.varint(tag.rawValue)
            w.varint(UInt64(f.count))
            w.raw(f.bytes)
        }
        field(.recorderVersion) { $0.string(recorderVersion) }
        field(.kernelRelease) { $0.string(kernelRelease) }
        field(.architecture) { $0.string(architecture) }
        field(.pageSize) { $0.varint(pageSize) }
        field(.source) { $0.string(source) }
        field(.command) { f in
            f.varint(UInt64(command.count))
            for a in command { f.string(a) }
        }
        field(.pids) { f in
            f.varint(UInt64(pids.count))
            for p in pids { f.zigzag(p) }
        }
        field(.startClock) { f in
            f.fixed64(startClock.monotonicNs)
            f.fixed64(startClock.realtimeNs)
        }
        return w.bytes
    }

    static func decodeBody(_ raw: UnsafeRawBufferPointer, version: UInt16) throws(ByteReader.Malformed) -> TraceHeader {
        var h = TraceHeader(formatVersion: version, recorderVersion: "")
        var r = ByteReader(raw)
        while !r.atEnd {
            let tag = try r.varint()
            let len = try r.count()
            var f = ByteReader(UnsafeRawBufferPointer(rebasing: raw[r.position..<(r.position + len)]))
            r.position += len
            switch Tag(rawValue: tag) {
            case .recorderVersion: h.recorderVersion = try f.string()
            case .kernelRelease: h.kernelRelease = try f.string()
            case .architecture: h.architecture = try f.string()
            case .pageSize: h.pageSize = try f.varint32()
            case .source: h.source = try f.string()
            case .command:
                let n = try f.count()
                h.command = []
                for _ in 0..<n { h.command.append(try f.string()) }
            case .pids:
                let n = try f.count()
                h.pids = []
                for _ in 0..<n { h.pids.append(try f.zigzag32()) }
            case .startClock:
                h.startClock = ClockSample(monotonicNs: try f.fixed64(), realtimeNs: try f.fixed64())
            case nil:
                continue
            }
        }
        return h
    }
}
