#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// Streams a trace file chunk by chunk, with bounded memory, surviving damage.
///
/// A truncated or corrupted chunk does not stop reading: the problem is recorded in `damage`
/// (naming the chunk and byte offset), the reader resynchronises on the next valid chunk header,
/// and every intact chunk is still returned. Only I/O failures and an unreadable file header throw.
public final class TraceReader {
    public let path: String
    public let header: TraceHeader
    public let fileSize: UInt64
    /// Problems found so far, in file order.
    public private(set) var damage: [TraceError] = []
    /// The footer, once reached and found intact.
    public private(set) var footer: TraceFooter?
    /// Headers of the chunks decoded so far.
    public private(set) var chunkCount = 0
    public private(set) var eventCount: UInt64 = 0
    /// Bytes of compressed chunk data (excluding headers) and raw (decompressed) bytes read so far.
    public private(set) var compressedBytes: UInt64 = 0
    public private(set) var rawBytes: UInt64 = 0

    private let fd: Int32
    private var position: UInt64
    private var nextSequence: UInt64 = 0
    private var finished = false
    private var io: [UInt8] = []
    private var rawBuffer: [UInt8] = []
    private let decompressor = ZstdDecompressor()
    /// The chunk being visited (string table, columns), shared by its events' views.
    private let chunk = DecodedChunk()
    /// Fetches the next chunk on a second thread while this one is decoded (`prefetch`), once there is a next one and
    /// where this process may run on two CPUs (asked then: a trace of one chunk never reads the affinity).
    private var prefetch: Bool
    private var prefetcher: ChunkPrefetcher?
    /// True once a second thread fetches chunks ahead (for tests).
    var isPrefetching: Bool { prefetcher != nil }

    /// Opens `path` and reads the file header. With `prefetch`, where this process may run on two CPUs, the chunk
    /// after the one being decoded is read, checked and decompressed on a second thread meanwhile: the same events
    /// and damage, sooner (one more raw and compressed buffer, ≤ 16 MiB each).
    public init(path: String, prefetch: Bool = false) throws(TraceError) {
        self.path = path
        self.prefetch = prefetch
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TraceError(.io, "cannot open: \(FileHandleIO.errnoText())", path: path) }
        self.fd = fd
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            Glibc.close(fd)
            throw TraceError(.io, "cannot stat: \(FileHandleIO.errnoText())", path: path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(fd)
            throw TraceError(.io, "is a directory, not a trace file", path: path)
        }
        fileSize = UInt64(st.st_size)
        do {
            (header, position) = try Self.readHeader(fd: fd, size: fileSize, path: path)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        // The prefetching thread reads this fd: it ends before the fd closes.
        prefetcher?.stop()
        Glibc.close(fd)
    }

    private static func readHeader(fd: Int32, size: UInt64, path: String) throws(TraceError) -> (TraceHeader, UInt64) {
        var buf: [UInt8] = []
        let n = try FileHandleIO.read(fd, into: &buf, count: TraceFormat.filePrefixSize, at: 0, path: path)
        if n == 0 { throw TraceError(.notATrace, "empty file: not a vfiotrace trace", path: path) }
        let magic = TraceFormat.fileMagic
        let m = min(n, magic.count)
        guard Array(buf[0..<m]) == Array(magic[0..<m]) else {
            throw TraceError(.notATrace, "not a vfiotrace trace (no VFIOTRC magic at byte 0)", path: path, offset: 0)
        }
        guard n == TraceFormat.filePrefixSize else {
            throw TraceError(
                .truncated, "file cut inside the file header (\(n) of \(TraceFormat.filePrefixSize) bytes)", path: path, offset: UInt64(n))
        }
        let version = UInt16(buf[8]) | UInt16(buf[9]) << 8
        guard version >= 1 && version <= TraceFormat.version else {
            throw TraceError(
                .unsupportedVersion, "format version \(version) is newer than this vfiotrace reads (\(TraceFormat.version)); upgrade vfiotrace",
                path: path, offset: 8)
        }
        guard buf[10] == 0 && buf[11] == 0 else {
            throw TraceError(.corruptHeader, "reserved header flags are not zero", path: path, offset: 10)
        }
        let bodyLength = Int(UInt32(buf[12]) | UInt32(buf[13]) << 8 | UInt32(buf[14]) << 16 | UInt32(buf[15]) << 24)
        guard bodyLength <= TraceFormat.maxHeaderBytes else {
            throw TraceError(.corruptHeader, "file header length \(bodyLength) out of bounds", path: path, offset: 12)
        }
        let want = bodyLength + 4
        let got = try FileHandleIO.read(fd, into: &buf, count: want, at: UInt64(TraceFormat.filePrefixSize), path: path)
        guard got == want else {
            throw TraceError(.truncated, "file cut inside the file header", path: path, offset: UInt64(TraceFormat.filePrefixSize + got))
        }
        let stored =
            UInt32(buf[bodyLength]) | UInt32(buf[bodyLength + 1]) << 8 | UInt32(buf[bodyLength + 2]) << 16 | UInt32(buf[bodyLength + 3]) << 24
        let result: Result<TraceHeader, TraceError> = buf.withUnsafeBytes { all in
            let body = UnsafeRawBufferPointer(rebasing: all[0..<bodyLength])
            guard CRC32C.checksum(body) == stored else {
                return .failure(TraceError(.corruptHeader, "file header CRC mismatch", path: path, offset: UInt64(TraceFormat.filePrefixSize)))
            }
            do throws(ByteReader.Malformed) {
                return .success(try TraceHeader.decodeBody(body, version: version))
            } catch {
                return .failure(
                    TraceError(
                        .corruptHeader, "file header: \(error.message)", path: path,
                        offset: UInt64(TraceFormat.filePrefixSize + error.position)))
            }
        }
        let header = try result.get()
        return (header, UInt64(TraceFormat.filePrefixSize + want))
    }

    /// True once the footer was reached or no complete chunk can follow.
    public var isAtEnd: Bool { finished }
    /// True when the file was closed cleanly: a valid footer and no damage.
    public var isIntact: Bool { finished && footer != nil && damage.isEmpty }

    /// Decodes the next intact chunk, appending its events to `events`; nil at end of file.
    /// A chunk is all or nothing: a chunk that fails any check adds no events.
    public func nextChunk(into events: inout [TraceEvent]) throws(TraceError) -> ChunkHeader? {
        let before = events.count
        return try nextChunk(batches: { for v in $0 { events.append(v.event) } }, discard: { events.removeSubrange(before...) })
    }

    /// Decodes the next intact chunk, handing each event to `visit` without buffering the chunk.
    ///
    /// Events are handed over only after the chunk's CRC32C and size checks pass. A chunk that passes
    /// them but then fails to decode (only a writer bug can cause that) is reported in `damage` after
    /// the events decoded before the failure were already visited.
    public func nextChunk(visit: (TraceEvent) -> Void) throws(TraceError) -> ChunkHeader? {
        try nextChunk(batches: { for v in $0 { visit(v.event) } }, discard: {})
    }

    /// Decodes the next intact chunk, handing each event to `visit` as a view over the decompressed chunk
    /// (valid during the call only): the fastest way to read, for consumers that need few kinds or fields.
    /// The same checks and the same damage handling as `nextChunk(visit:)`.
    public func nextChunk(views visit: (EventView) -> Void) throws(TraceError) -> ChunkHeader? {
        try nextChunk(batches: { for v in $0 { visit(v) } }, discard: {})
    }

    /// Decodes the next intact chunk, handing its events over as views in batches of up to 512 (valid during the
    /// call only): `nextChunk(views:)` without a call per event, for consumers whose loop over a batch is their own.
    public func nextChunk(batches visit: (UnsafeBufferPointer<EventView>) -> Void) throws(TraceError) -> ChunkHeader? {
        try nextChunk(batches: visit, discard: {})
    }

    private func nextChunk(batches visit: (UnsafeBufferPointer<EventView>) -> Void, discard: () -> Void) throws(TraceError) -> ChunkHeader? {
        while !finished {
            let remaining = fileSize - position
            if remaining == 0 {
                finished = true
                damage.append(
                    TraceError(
                        .truncated, "no footer: the recording was not closed cleanly (cut after chunk \(Int(nextSequence) - 1))",
                        path: path, offset: position))
                return nil
            }
            let n = try FileHandleIO.read(fd, into: &io, count: Int(min(UInt64(TraceFormat.chunkHeaderSize), remaining)), at: position, path: path)
            let start = position
            if n >= 4 && Array(io[0..<4]) == TraceFormat.chunkMagic {
                if n < TraceFormat.chunkHeaderSize {
                    return truncated("file cut inside the header of chunk \(nextSequence)", chunk: nextSequence, at: start)
                }
                let parsed = io.withUnsafeBytes { ChunkHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<TraceFormat.chunkHeaderSize]), version: header.formatVersion) }
                guard case .success(let h) = parsed else {
                    if case .failure(let why) = parsed {
                        damage.append(TraceError(.corruptChunk, why.reason, path: path, chunk: nextSequence, offset: start))
                    }
                    try resync(from: start + 1)
                    continue
                }
                let end = start + UInt64(TraceFormat.chunkHeaderSize) + UInt64(h.compressedSize)
                if end > fileSize {
                    return truncated(
                        "file cut inside chunk \(h.sequence) (\(fileSize - start) of \(end - start) bytes present)", chunk: h.sequence, at: fileSize)
                }
                position = end
                if h.sequence != nextSequence {
                    let what = h.sequence > nextSequence ? "chunks \(nextSequence)..<\(h.sequence) missing" : "chunk \(h.sequence) out of order"
                    damage.append(TraceError(.corruptChunk, what, path: path, chunk: h.sequence, offset: start))
                }
                nextSequence = h.sequence + 1
                if try decode(h, at: start, batches: visit, discard: discard) { return h }
                continue
            }
            if n >= 4 && Array(io[0..<4]) == TraceFormat.footerMagic {
                if try readFooter(at: start) { return nil }
                continue
            }
            if n < 4 && Array(io[0..<n]) == Array(TraceFormat.chunkMagic[0..<n]) {
                return truncated("file cut inside the header of chunk \(nextSequence)", chunk: nextSequence, at: start)
            }
            if n < 4 && Array(io[0..<n]) == Array(TraceFormat.footerMagic[0..<n]) {
                return truncated("file cut inside the footer", chunk: nil, at: start)
            }
            damage.append(
                TraceError(.garbage, "unexpected bytes where chunk \(nextSequence) should start", path: path, chunk: nextSequence, offset: start))
            try resync(from: start + 1)
        }
        return nil
    }

    private func truncated(_ message: String, chunk: UInt64?, at offset: UInt64) -> ChunkHeader? {
        damage.append(TraceError(.truncated, message, path: path, chunk: chunk, offset: offset))
        finished = true
        position = fileSize
        return nil
    }

    /// Reads, checks, decompresses and decodes one chunk; false (with damage recorded) when it fails a check.
    private func decode(
        _ h: ChunkHeader, at start: UInt64, batches visit: (UnsafeBufferPointer<EventView>) -> Void, discard: () -> Void
    ) throws(TraceError) -> Bool {
        let count = Int(h.compressedSize)
        let bodyAt = start + UInt64(TraceFormat.chunkHeaderSize)
        let failure: String?
        if let p = prefetcher, let fetched = p.take(start), fetched.header == h {
            // Fetched ahead from the same bytes, by the same steps.
            failure = fetched.failure
            if failure == nil { swap(&rawBuffer, &p.raw) }
        } else {
            _ = try FileHandleIO.read(fd, into: &io, count: count, at: bodyAt, path: path)
            failure = io.withUnsafeBytes { h.unpack(UnsafeRawBufferPointer(rebasing: $0[0..<count]), with: decompressor, into: &rawBuffer) }
        }
        if let failure {
            damage.append(TraceError(.corruptChunk, failure, path: path, chunk: h.sequence, offset: bodyAt))
            return false
        }
        // The next chunk, if one follows, is fetched while this one is decoded.
        let next = bodyAt + UInt64(count)
        if prefetch && fileSize - next > UInt64(TraceFormat.chunkHeaderSize) {
            if prefetcher == nil {
                prefetcher = ChunkPrefetcher.worthwhile ? ChunkPrefetcher(fd: fd, fileSize: fileSize, version: header.formatVersion) : nil
                // Nor is a thread that cannot help or cannot be started asked for again at every chunk.
                if prefetcher == nil { prefetch = false }
            }
            prefetcher?.request(next)
        }
        let malformed = rawBuffer.withUnsafeBytes { (all: UnsafeRawBufferPointer) -> ByteReader.Malformed? in
            do throws(ByteReader.Malformed) {
                try ChunkDecoder.decode(
                    UnsafeRawBufferPointer(rebasing: all[0..<Int(h.rawSize)]), version: header.formatVersion, expected: Int(h.eventCount),
                    chunk: chunk, batches: visit)
                return nil
            } catch {
                return error
            }
        }
        if let error = malformed {
            discard()
            damage.append(
                TraceError(
                    .corruptChunk, "undecodable event data at raw byte \(error.position): \(error.message)",
                    path: path, chunk: h.sequence, offset: bodyAt))
            return false
        }
        chunkCount += 1
        eventCount += UInt64(h.eventCount)
        compressedBytes += UInt64(h.compressedSize)
        rawBytes += UInt64(h.rawSize)
        return true
    }

    /// Handles a footer candidate at `start`; true when the file ends here (valid or truncated footer).
    private func readFooter(at start: UInt64) throws(TraceError) -> Bool {
        let remaining = fileSize - start
        guard remaining >= 8 else {
            _ = truncated("file cut inside the footer", chunk: nil, at: fileSize)
            return true
        }
        var prefix: [UInt8] = []
        _ = try FileHandleIO.read(fd, into: &prefix, count: 8, at: start, path: path)
        let n = UInt64(UInt32(prefix[4]) | UInt32(prefix[5]) << 8 | UInt32(prefix[6]) << 16 | UInt32(prefix[7]) << 24)
        guard n <= remaining / UInt64(TraceFooter.entrySize) else {
            // Either a damaged footer or a chunk cut short; the index is optional, so only report it.
            damage.append(TraceError(.corruptFooter, "footer declares \(n) chunks, more than the file can hold", path: path, offset: start))
            try resync(from: start + 1)
            return finished
        }
        let size = UInt64(TraceFooter.size(entries: Int(n)))
        guard start + size + 16 <= fileSize else {
            _ = truncated("file cut inside the footer", chunk: nil, at: fileSize)
            return true
        }
        var buf: [UInt8] = []
        _ = try FileHandleIO.read(fd, into: &buf, count: Int(size + 16), at: start, path: path)
        let result = buf.withUnsafeBytes { TraceFooter.decode(UnsafeRawBufferPointer(rebasing: $0[0..<Int(size)])) }
        switch result {
        case .failure(let why):
            damage.append(TraceError(.corruptFooter, why.reason, path: path, offset: start))
            try resync(from: start + 1)
            return finished
        case .success(let f):
            let trailerOffset = buf.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: Int(size), as: UInt64.self)) }
            if trailerOffset != start || Array(buf[Int(size + 8)..<Int(size + 16)]) != TraceFormat.endMagic {
                damage.append(TraceError(.corruptFooter, "footer trailer does not point back at the footer", path: path, offset: start + size))
            }
            if start + size + 16 < fileSize {
                damage.append(
                    TraceError(.garbage, "\(fileSize - start - size - 16) unexpected bytes after the footer", path: path, offset: start + size + 16))
            }
            if f.totalEvents != eventCount || f.entries.count != chunkCount {
                damage.append(
                    TraceError(
                        .corruptChunk,
                        "footer indexes \(f.entries.count) chunks / \(f.totalEvents) events, but \(chunkCount) / \(eventCount) were readable",
                        path: path, offset: start))
            }
            footer = f
            finished = true
            position = fileSize
            return true
        }
    }

    /// Scans forward for the next chunk header whose CRC checks, or a valid footer.
    private func resync(from offset: UInt64) throws(TraceError) {
        var at = offset
        let window = 1 << 16
        var buf: [UInt8] = []
        while at + 4 <= fileSize {
            let n = try FileHandleIO.read(fd, into: &buf, count: window + TraceFormat.chunkHeaderSize, at: at, path: path)
            if n < 4 { break }
            var i = 0
            while i + 4 <= n && i < window {
                if buf[i] == 0x56 && buf[i + 1] == 0x46 {  // "VF"
                    let tag = Array(buf[i..<(i + 4)])
                    if tag == TraceFormat.chunkMagic {
                        if i + TraceFormat.chunkHeaderSize <= n {
                            let ok = buf.withUnsafeBytes {
                                ChunkHeader.decode(UnsafeRawBufferPointer(rebasing: $0[i..<(i + TraceFormat.chunkHeaderSize)]), version: header.formatVersion)
                            }
                            if case .success = ok {
                                position = at + UInt64(i)
                                return
                            }
                        }
                    } else if tag == TraceFormat.footerMagic {
                        position = at + UInt64(i)
                        return
                    }
                }
                i += 1
            }
            at += UInt64(window)
        }
        finished = true
        position = fileSize
        if damage.last?.code != .truncated {
            damage.append(
                TraceError(.truncated, "no intact chunk or footer after the damage; the file ends without a footer", path: path, offset: fileSize))
        }
    }

    /// Calls `body` for every event of every intact chunk, in file order, streaming (see `nextChunk(visit:)`).
    /// An error thrown by `body` stops the iteration and is rethrown.
    public func forEachEvent(_ body: (TraceEvent) throws -> Void) throws {
        var thrown: (any Error)?
        while thrown == nil,
            try nextChunk(visit: { e in
                guard thrown == nil else { return }
                do { try body(e) } catch { thrown = error }
            }) != nil
        {}
        if let thrown { throw thrown }
    }

    /// Reads everything into memory (small files and tests).
    public func readAll() throws(TraceError) -> [TraceEvent] {
        var events: [TraceEvent] = []
        while try nextChunk(into: &events) != nil {}
        return events
    }
}
