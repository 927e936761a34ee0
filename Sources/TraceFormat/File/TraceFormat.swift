/// Constants of the on-disk format (docs/FORMAT.md).
public enum TraceFormat {
    /// The format version this code writes and the newest it reads.
    public static let version: UInt16 = 1
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
    /// Largest raw or compressed chunk body a reader accepts.
    public static let maxChunkBytes = 64 << 20
    /// Largest header body a reader accepts.
    static let maxHeaderBytes = 1 << 20
}

/// Why a structure failed its checks (CRC, bounds); turned into a `TraceError` with context by the reader.
struct CheckFailure: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
