#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// Writes a trace file: header, then self-contained zstd chunks, then the footer index on `close()`.
///
/// Each sealed chunk is written with one `write(2)` before the next is started, so a crash loses at
/// most the open chunk; the open chunk is sealed when it reaches `maxChunkBytes` or is older than
/// `maxChunkAgeNs` (checked on `append` and by `sealIfDue`, which a writer thread calls when idle).
public final class TraceWriter {
    /// Tuning knobs; the defaults are what the recorder uses.
    public struct Options: Sendable {
        /// Seal when the raw chunk body reaches this size.
        public var maxChunkBytes: Int = 1 << 20
        /// Seal a chunk at most this long after its first event was appended (wall time of the writer).
        public var maxChunkAgeNs: UInt64 = 100_000_000
        public var compressionLevel: Int32 = 3
        public init() {}
    }

    public let path: String
    public let header: TraceHeader
    public let options: Options
    private let fd: Int32
    private let ownsFd: Bool
    private var encoder = ChunkEncoder()
    private let compressor: ZstdCompressor
    private var sequence: UInt64 = 0
    private var chunkOpenedAt: UInt64 = 0
    private var entries: [TraceFooter.Entry] = []
    private var closed = false
    private var failed: TraceError?
    private var appendsSinceClockCheck = 0

    public private(set) var eventsWritten: UInt64 = 0
    /// Bytes written to the file so far.
    public private(set) var bytesWritten: UInt64 = 0
    public private(set) var rawBytesWritten: UInt64 = 0
    public var chunksWritten: Int { entries.count }
    /// Events appended but not yet sealed into a chunk.
    public var pendingEvents: Int { encoder.eventCount }

    /// Creates (truncating) `path` and writes the header.
    public convenience init(path: String, header: TraceHeader, options: Options = Options()) throws(TraceError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TraceError(.io, "cannot create: \(FileHandleIO.errnoText())", path: path) }
        try self.init(fileDescriptor: fd, path: path, header: header, options: options, ownsFd: true)
    }

    /// Writes to an already-open fd (e.g. stdout). `path` is used in messages only.
    public init(fileDescriptor: Int32, path: String, header: TraceHeader, options: Options = Options(), ownsFd: Bool = false) throws(TraceError) {
        self.fd = fileDescriptor
        self.path = path
        self.header = header
        self.options = options
        self.ownsFd = ownsFd
        self.compressor = ZstdCompressor(level: options.compressionLevel)
        var w = ByteWriter()
        let body = header.encodeBody()
        w.raw(TraceFormat.fileMagic)
        w.raw([UInt8(truncatingIfNeeded: header.formatVersion), UInt8(truncatingIfNeeded: header.formatVersion >> 8), 0, 0])
        w.fixed32(UInt32(body.count))
        w.raw(body)
        w.fixed32(CRC32C.checksum(body))
        do {
            try FileHandleIO.writeAll(fd, w.bytes, path: path)
        } catch {
            if ownsFd { Glibc.close(fd) }
            throw error
        }
        bytesWritten = UInt64(w.count)
    }

    deinit {
        if !closed { try? close() }
    }

    /// Adds one event; may seal and write a chunk.
    public func append(_ event: TraceEvent) throws(TraceError) {
        if let failed { throw failed }
        if let why = event.formatLimitViolation {
            throw TraceError(.invalidEvent, "\(event.kind.name) event at \(event.time) ns: \(why)", path: path)
        }
        if encoder.eventCount == 0 { chunkOpenedAt = MonotonicClock.now() }
        // One large value widens its whole column: seal first where it would take the chunk past what a reader accepts.
        var outcome = encoder.append(event, widenLimit: TraceFormat.sealChunkBytes + TraceFormat.maxEventBytes)
        if outcome == .wouldWiden {
            try seal()
            chunkOpenedAt = MonotonicClock.now()
            outcome = encoder.append(event, widenLimit: .max)
        }
        guard outcome == .appended else {
            throw TraceError(
                .invalidEvent, "\(event.kind.name) event at \(event.time) ns takes more than the \(TraceFormat.maxEventBytes) bytes an event may",
                path: path)
        }
        // The limits that let a reader bound what one chunk holds (docs/FORMAT.md): size, room in the string
        // table for one more event's strings, and events.
        if encoder.approximateSize >= min(options.maxChunkBytes, TraceFormat.sealChunkBytes)
            || encoder.stringCount + 3 + 2 * TraceFormat.maxListItems > TraceFormat.maxStringsPerChunk
            || encoder.eventCount >= TraceFormat.maxEventsPerChunk
        {
            try seal()
            return
        }
        appendsSinceClockCheck += 1
        if appendsSinceClockCheck >= 256 {
            appendsSinceClockCheck = 0
            try sealIfDue()
        }
    }

    /// Seals the open chunk if it is older than `maxChunkAgeNs`.
    public func sealIfDue(now: UInt64 = MonotonicClock.now()) throws(TraceError) {
        if encoder.eventCount > 0 && now &- chunkOpenedAt >= options.maxChunkAgeNs { try seal() }
    }

    /// Seals and writes the open chunk (no-op when empty).
    public func flush() throws(TraceError) {
        if encoder.eventCount > 0 { try seal() }
    }

    private func seal() throws(TraceError) {
        if let failed { throw failed }
        let raw = encoder.finish()
        let compressed = compressor.compress(raw)
        let h = ChunkHeader(
            sequence: sequence, eventCount: UInt32(encoder.eventCount), firstTime: encoder.firstTime,
            lastTime: encoder.lastTime, rawSize: UInt32(raw.count), compressedSize: UInt32(compressed.count),
            crc: CRC32C.checksum(compressed))
        let offset = bytesWritten
        do {
            try FileHandleIO.writeAll(fd, h.encode() + compressed, path: path)
        } catch {
            // Whatever part of this chunk reached the disk reads back as a truncated tail; earlier chunks stay valid.
            failed = error
            throw error
        }
        entries.append(
            TraceFooter.Entry(
                offset: offset, sequence: sequence, eventCount: h.eventCount,
                firstTime: h.firstTime, lastTime: h.lastTime))
        bytesWritten += UInt64(TraceFormat.chunkHeaderSize + compressed.count)
        rawBytesWritten += UInt64(raw.count)
        eventsWritten += UInt64(h.eventCount)
        sequence += 1
        encoder.reset()
    }

    /// Writes `body` as the next chunk exactly as given, behind a header with valid CRCs: how the hostile-input
    /// tests and the fuzz driver craft chunks that pass every integrity check yet lie (the recorder never calls it).
    package func appendRawChunk(_ body: [UInt8], eventCount: UInt32, firstTime: UInt64 = 0, lastTime: UInt64 = 0) throws(TraceError) {
        try flush()
        let compressed = compressor.compress(body)
        let h = ChunkHeader(
            sequence: sequence, eventCount: eventCount, firstTime: firstTime, lastTime: lastTime,
            rawSize: UInt32(truncatingIfNeeded: body.count), compressedSize: UInt32(truncatingIfNeeded: compressed.count),
            crc: CRC32C.checksum(compressed))
        try FileHandleIO.writeAll(fd, h.encode() + compressed, path: path)
        entries.append(TraceFooter.Entry(offset: bytesWritten, sequence: sequence, eventCount: eventCount, firstTime: firstTime, lastTime: lastTime))
        bytesWritten += UInt64(TraceFormat.chunkHeaderSize + compressed.count)
        eventsWritten += UInt64(eventCount)
        sequence += 1
    }

    /// Seals the last chunk, writes the footer index, and closes the file.
    public func close(closeClock: ClockSample = .now()) throws(TraceError) {
        guard !closed else { return }
        closed = true
        defer { if ownsFd { Glibc.close(fd) } }
        try flush()
        let footer = TraceFooter(entries: entries, totalEvents: eventsWritten, closeClock: closeClock)
        var w = ByteWriter()
        w.raw(footer.encode())
        w.fixed64(bytesWritten)
        w.raw(TraceFormat.endMagic)
        try FileHandleIO.writeAll(fd, w.bytes, path: path)
        bytesWritten += UInt64(w.count)
        if ownsFd { fsync(fd) }
    }
}
