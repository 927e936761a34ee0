/// Append-only little-endian byte buffer with LEB128 varints and zigzag signed varints.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    var count: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint(_ value: UInt32) { varint(UInt64(value)) }

    mutating func zigzag(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func zigzag(_ value: Int32) { zigzag(Int64(value)) }

    mutating func fixed32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func fixed64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// Each value's low `width` bytes (0, 1, 2, 4 or 8), little-endian: a version 2 column.
    mutating func fixedWidth(_ values: [UInt64], width: Int) {
        guard width > 0, !values.isEmpty else { return }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: values.count * width + 8))
        bytes.withUnsafeMutableBytes { out in
            var p = out.baseAddress! + start
            for v in values {
                // 8 bytes stored, `width` kept: the next value overwrites the rest.
                p.storeBytes(of: v.littleEndian, as: UInt64.self)
                p += width
            }
        }
        bytes.removeLast(8)
    }

    /// Length-prefixed UTF-8.
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func truncate(to n: Int) { bytes.removeSubrange(n...) }
    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }
}
