/// The 48-byte header in front of each chunk's zstd frame (docs/FORMAT.md, "Chunk").
public struct ChunkHeader: Sendable, Hashable {
    public var sequence: UInt64
    public var eventCount: UInt32
    public var firstTime: UInt64
    public var lastTime: UInt64
    public var rawSize: UInt32
    public var compressedSize: UInt32
    /// CRC32C of the compressed bytes.
    public var crc: UInt32

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: TraceFormat.chunkHeaderSize)
        w.raw(TraceFormat.chunkMagic)
        w.fixed64(sequence)
        w.fixed32(eventCount)
        w.fixed64(firstTime)
        w.fixed64(lastTime)
        w.fixed32(rawSize)
        w.fixed32(compressedSize)
        w.fixed32(crc)
        let headerCrc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
        w.fixed32(headerCrc)
        return w.bytes
    }

    /// Parses and checks a header from exactly `chunkHeaderSize` bytes starting with the chunk magic.
    /// Returns nil with a reason when the header's own CRC or bounds fail.
    /// `version` is the file's format version: it sets how few bytes an event may take.
    static func decode(_ raw: UnsafeRawBufferPointer, version: UInt16) -> Result<ChunkHeader, CheckFailure> {
        guard raw.count >= TraceFormat.chunkHeaderSize else { return .failure(CheckFailure("short chunk header")) }
        let fields = UnsafeRawBufferPointer(rebasing: raw[4..<(TraceFormat.chunkHeaderSize - 4)])
        var r = ByteReader(raw, position: 4)
        do {
            let h = ChunkHeader(
                sequence: try r.fixed64(), eventCount: try r.fixed32(), firstTime: try r.fixed64(),
                lastTime: try r.fixed64(), rawSize: try r.fixed32(), compressedSize: try r.fixed32(),
                crc: try r.fixed32())
            let stored = try r.fixed32()
            guard CRC32C.checksum(fields) == stored else { return .failure(CheckFailure("chunk header CRC mismatch")) }
            guard Int(h.rawSize) <= TraceFormat.maxChunkBytes, Int(h.compressedSize) <= TraceFormat.maxChunkBytes else {
                return .failure(CheckFailure("chunk sizes out of bounds (raw \(h.rawSize), compressed \(h.compressedSize))"))
            }
            guard UInt64(h.eventCount) * UInt64(TraceFormat.minEventBytes(version: version)) <= UInt64(h.rawSize) else {
                return .failure(CheckFailure("event count \(h.eventCount) cannot fit in raw size \(h.rawSize)"))
            }
            guard version < 2 || h.eventCount <= TraceFormat.maxEventsPerChunk else {
                return .failure(CheckFailure("event count \(h.eventCount) exceeds the \(TraceFormat.maxEventsPerChunk) a chunk may hold"))
            }
            return .success(h)
        } catch {
            return .failure(CheckFailure(error.message))
        }
    }
}

extension ChunkHeader {
    /// The checks and decompression of this chunk's body, as every reader does them (`TraceReader`, and
    /// `ChunkPrefetcher` ahead of it): its CRC32C, then zstd into `raw`, which keeps `TraceFormat.rawPadding` bytes
    /// after the body. The failure as the damage says it, or nil.
    func unpack(_ compressed: UnsafeRawBufferPointer, with decompressor: ZstdDecompressor, into raw: inout [UInt8]) -> String? {
        guard CRC32C.checksum(compressed) == crc else { return "CRC32C mismatch in the compressed bytes" }
        let room = Int(rawSize) + TraceFormat.rawPadding
        if raw.count < room { raw = [UInt8](repeating: 0, count: room) }
        return decompressor.decompress(compressed, expectedSize: Int(rawSize), into: &raw)
    }
}
