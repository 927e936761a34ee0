#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// Reads, checks (CRC32C) and decompresses the chunk after the one being decoded, on a thread of its own, so that
/// a reader with a second core decodes one chunk while the next is decompressed (`TraceReader(path:prefetch:)`).
///
/// It only ever does ahead of time what the reader would do next with the same bytes: the reader asks for the
/// chunk at an offset, and takes the outcome when it reaches that offset with the same header; whatever else
/// happens (damage, a resync, the footer, an I/O error) the reader does itself, as without it. So a trace reads
/// the same, event for event and damage for damage, with or without it.
///
/// Hand-off: the reader asks (`request`) only after taking the previous outcome (`take`), and `take` waits for the
/// thread to finish; the thread writes `raw` only between the two. One request at a time, one buffer each.
final class ChunkPrefetcher: @unchecked Sendable {
    /// What fetching the chunk at `start` gave: its header as read there, and a failure (as the reader words it)
    /// or its raw bytes in `raw`.
    struct Fetched {
        let start: UInt64
        let header: ChunkHeader
        let failure: String?
    }

    private let fd: Int32
    private let fileSize: UInt64
    /// The file's format version (a chunk header's checks depend on it).
    private let version: UInt16
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var thread: pthread_t?
    // Under `mutex`.
    private var requested: UInt64?
    private var working = false
    private var outcome: Fetched?
    private var stopping = false
    /// The raw bytes of the last chunk fetched: the thread's while it works, the reader's to swap with its own after
    /// `take` (the reader's previous buffer, whose views are done, becomes the next one written).
    var raw: [UInt8] = []
    private var io: [UInt8] = []
    private let decompressor = ZstdDecompressor()

    /// Whether this process may run on two CPUs at once (its affinity, `Cpus_allowed` in /proc/self/status, not the
    /// machine's size: under `taskset -c 0` a second thread would only add switches).
    static let worthwhile: Bool = {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16384)
        var used = 0
        while used < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            used += n
        }
        // "Cpus_allowed:\tff,ffffffff\n": a hex mask with commas every 32 bits.
        let text = String(decoding: buffer[0..<used], as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else { return false }
        var cpus = 0
        for c in line.dropFirst("Cpus_allowed:".count) {
            if let digit = c.hexDigitValue { cpus += digit.nonzeroBitCount }
        }
        return cpus >= 2
    }()

    /// Starts the thread; nil when it cannot be started (the reader then reads as without it).
    init?(fd: Int32, fileSize: UInt64, version: UInt16) {
        self.version = version
        self.fd = fd
        self.fileSize = fileSize
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        var t = pthread_t()
        let started = pthread_create(
            &t, nil,
            { context in
                Unmanaged<ChunkPrefetcher>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, Unmanaged.passRetained(self).toOpaque())
        guard started == 0 else {
            // The thread never took its reference; deinit releases the rest.
            Unmanaged.passUnretained(self).release()
            return nil
        }
        thread = t
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Ends the thread (after the chunk it may be fetching) and waits for it.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        if let t = thread { pthread_join(t, nil) }
        thread = nil
    }

    /// Asks for the chunk at `start` (call only after `take`).
    func request(_ start: UInt64) {
        pthread_mutex_lock(mutex)
        if !working && !stopping {
            requested = start
            outcome = nil
            working = true
            pthread_cond_broadcast(changed)
        }
        pthread_mutex_unlock(mutex)
    }

    /// The outcome for the chunk at `start` once fetched, or nil when none was asked for there (or it could not be
    /// fetched ahead): then the reader fetches it itself.
    func take(_ start: UInt64) -> Fetched? {
        pthread_mutex_lock(mutex)
        while working { pthread_cond_wait(changed, mutex) }
        let f = outcome
        outcome = nil
        pthread_mutex_unlock(mutex)
        return f?.start == start ? f : nil
    }

    private func run() {
        // The thread holds a reference until it ends (passRetained above), so `self` outlives `stop()`'s join.
        pthread_mutex_lock(mutex)
        while true {
            while requested == nil && !stopping { pthread_cond_wait(changed, mutex) }
            if stopping { break }
            let start = requested!
            requested = nil
            pthread_mutex_unlock(mutex)
            let f = fetch(start)
            pthread_mutex_lock(mutex)
            outcome = f
            working = false
            pthread_cond_broadcast(changed)
        }
        working = false
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    /// The reader's own steps for a chunk at `start` (TraceReader.nextChunk and decode): its header, its body's
    /// CRC32C, its decompression. Nil wherever the reader would do something else (no chunk header there, a header
    /// that fails its checks, a chunk cut by the end of the file, an I/O error): it does that itself.
    private func fetch(_ start: UInt64) -> Fetched? {
        let headerSize = TraceFormat.chunkHeaderSize
        guard start < fileSize, fileSize - start >= UInt64(headerSize) else { return nil }
        guard let n = try? FileHandleIO.read(fd, into: &io, count: headerSize, at: start, path: ""), n == headerSize,
            Array(io[0..<4]) == TraceFormat.chunkMagic
        else { return nil }
        let parsed = io.withUnsafeBytes { ChunkHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<headerSize]), version: version) }
        guard case .success(let h) = parsed else { return nil }
        let bodyAt = start + UInt64(headerSize)
        guard fileSize - bodyAt >= UInt64(h.compressedSize) else { return nil }
        let count = Int(h.compressedSize)
        guard let m = try? FileHandleIO.read(fd, into: &io, count: count, at: bodyAt, path: ""), m == count else { return nil }
        let failure = io.withUnsafeBytes { h.unpack(UnsafeRawBufferPointer(rebasing: $0[0..<count]), with: decompressor, into: &raw) }
        return Fetched(start: start, header: h, failure: failure)
    }
}
