internal import CZstd

/// One reusable zstd compression context (not thread-safe; one per writer).
final class ZstdCompressor {
    private let context: OpaquePointer
    let level: Int32

    init(level: Int32) {
        context = ZSTD_createCCtx()
        self.level = level
    }
    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` into one complete zstd frame.
    func compress(_ input: [UInt8]) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { o in
            input.withUnsafeBytes { i in
                ZSTD_compressCCtx(context, o.baseAddress, bound, i.baseAddress, i.count, level)
            }
        }
        precondition(ZSTD_isError(n) == 0, "zstd compression cannot fail with a bound-sized buffer")
        out.removeSubrange(n...)
        return out
    }

    static func compressBound(_ n: Int) -> Int { ZSTD_compressBound(n) }
}

/// One reusable zstd decompression context.
final class ZstdDecompressor {
    private let context: OpaquePointer

    init() { context = ZSTD_createDCtx() }
    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses exactly one frame into `out` (resized to `expectedSize`); returns an error text on failure.
    func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int, into out: inout [UInt8]) -> String? {
        if out.count < expectedSize { out = [UInt8](repeating: 0, count: expectedSize) }
        let n = out.withUnsafeMutableBytes { o in
            ZSTD_decompressDCtx(context, o.baseAddress, expectedSize, input.baseAddress, input.count)
        }
        if ZSTD_isError(n) != 0 { return "zstd: " + String(cString: ZSTD_getErrorName(n)) }
        if n != expectedSize { return "decompressed \(n) bytes, header declares \(expectedSize)" }
        return nil
    }
}
