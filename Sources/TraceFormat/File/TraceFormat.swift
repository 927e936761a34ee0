/// Constants of the on-disk format (docs/FORMAT.md).
public enum TraceFormat {
    /// The format version this code writes and the newest it reads.
    public static let version: UInt16 = 2
    /// Version of the vfiotrace tool, stored in headers.
    public static let toolVersion = "0.1.0"

    /// 8-byte file magic.
    static let fileMagic: [UInt8] = Array("VFIOTRC\u{0}".utf8)
    /// 4-byte chunk magic.
    static let chunkMagic: [UInt8] = Array("VFCK".utf8)
    /// 4-byte footer magic.
    static let footerMagic: [UInt8] = Array("VFIX".utf8)
    /// 8-byte magic closing the file after the footer.
    static let endMagic: [UInt8] = Array("VFEND\u{0}\u{0}\u{0}".utf8)

    /// Fixed size of the file header prefix: magic(8) version(2) flags(2) bodyLength(4).
    static let filePrefixSize = 16
    /// Chunk header size: magic(4) seq(8) count(4) first(8) last(8) raw(4) comp(4) crc(4) headerCrc(4).
    static let chunkHeaderSize = 48
    /// Largest raw or compressed chunk body a reader accepts (docs/FORMAT.md, "What a reader allocates").
    public static let maxChunkBytes = 16 << 20
    /// The writer seals a chunk at this raw size at the latest, whatever its options say; with one event of
    /// at most `maxEventBytes` on top, no chunk it writes exceeds `maxChunkBytes`.
    static let sealChunkBytes = 8 << 20
    /// Largest encoded event (with the strings it adds to the table) the writer accepts.
    public static let maxEventBytes = 4 << 20
    /// Most strings one chunk's table may hold.
    public static let maxStringsPerChunk = 65_536
    /// Most sparse-mmap areas, eventfds or marker fields one event may hold.
    public static let maxListItems = 4_096
    /// The fewest bytes an event takes in a version 1 chunk body (kind, flags, Δtime and the shortest payload):
    /// a header declaring more events than `raw size / minEventBytes` is damage. A version 2 event takes at least its
    /// kind's byte.
    static func minEventBytes(version: UInt16) -> Int { version >= 2 ? 1 : 6 }
    /// Most events in one version 2 chunk (the writer seals there; a reader that keeps a chunk's events holds no more).
    public static let maxEventsPerChunk = 1 << 18
    /// Readable bytes a decoder needs after a chunk body: a column's value is read 8 bytes at a time.
    static let rawPadding = 8
    /// Largest header body a reader accepts.
    static let maxHeaderBytes = 1 << 20
}

/// Why a structure failed its checks (CRC, bounds); turned into a `TraceError` with context by the reader.
struct CheckFailure: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
