/// The columns of a version 2 chunk body (docs/FORMAT.md, "Chunk body, version 2"): what each holds, how wide it
/// may be, and what its values must satisfy. The encoder, the decoder and `EventView` all read this one table.
///
/// Columns are addressed by slot: `kind × 16 + field`. Slots 0–4 of kind 0 (no event has kind 0) are the event
/// header's; a kind's fields take slots 0…11 in the payload's field order, its list items slots 14 and 15.
@usableFromInline
enum ColumnSchema {
    /// What a column's values must satisfy beyond fitting their width.
    enum Check: Sendable {
        case none
        /// An enum's raw value: bit `v` of the mask set for each valid `v` (all raw values are below 64).
        case oneOf(UInt64)
        /// A string-table index.
        case string
        /// A list's length: at most this many items (stored as count + 1 where `plusOne`: 0 = no list).
        case count(Int, plusOne: Bool)
    }

    struct Spec: Sendable {
        /// The widest a column of this field may be, in bytes: 1 (u8, enums), 4 (u32, i32, strings, counts) or 8 (u64, i64).
        let maxWidth: Int
        let check: Check
    }

    @inlinable static var slotsPerKind: Int { 16 }
    static let slotCount = 16 * slotsPerKind
    /// The first list-item slot of a kind.
    static let itemSlot = 14

    // The header's slots (kind 0).
    static let deltaSlot = 0
    static let durationSlot = 1
    @usableFromInline static let pidSlot = 2
    static let tidSlot = 3
    static let resultSlot = 4

    /// The columns of one kind: its fields in order, which of them (if any) is its list's length, and the list's items.
    struct Kind: Sendable {
        let fields: [Spec]
        let countField: Int?
        let items: [Spec]
    }

    static let u8 = Spec(maxWidth: 1, check: .none)
    static let u32 = Spec(maxWidth: 4, check: .none)
    static let u64 = Spec(maxWidth: 8, check: .none)
    /// Zigzag-encoded.
    static let i32 = Spec(maxWidth: 4, check: .none)
    static let i64 = Spec(maxWidth: 8, check: .none)
    static let str = Spec(maxWidth: 4, check: .string)

    static func oneOf<T: CaseIterable & RawRepresentable>(_: T.Type) -> Spec where T.RawValue == UInt8 {
        Spec(maxWidth: 1, check: .oneOf(T.allCases.reduce(0) { $0 | 1 << UInt64($1.rawValue) }))
    }

    /// The header columns after kinds and flags, in body order: Δtime, duration, pid, tid, result.
    static let header: [Spec] = [i64, i64, i32, i32, i64]

    /// Indexed by the kind's raw value; index 0 unused.
    static let kinds: [Kind] = {
        let fdKind = oneOf(FdKind.self)
        let list = Spec(maxWidth: 4, check: .count(TraceFormat.maxListItems, plusOne: false))
        var k = [Kind](repeating: Kind(fields: [], countField: nil, items: []), count: 16)
        k[Int(EventKind.vfioIoctl.rawValue)] = Kind(
            fields: [i32, fdKind, str, u32, Spec(maxWidth: 4, check: .count(TraceFormat.maxEventBytes, plusOne: false))],
            countField: 4, items: [u8])
        k[Int(EventKind.ioctl.rawValue)] = Kind(fields: [i32, fdKind, u32, u64], countField: nil, items: [])
        k[Int(EventKind.deviceOpen.rawValue)] = Kind(fields: [i32, i32, str], countField: nil, items: [])
        k[Int(EventKind.regionInfo.rawValue)] = Kind(
            fields: [
                i32, str, u32, u32, u64, u64, Spec(maxWidth: 1, check: .oneOf(0b11)), u32, u32,
                Spec(maxWidth: 4, check: .count(TraceFormat.maxListItems, plusOne: true)),
            ],
            countField: 9, items: [u64, u64])
        k[Int(EventKind.irqBinding.rawValue)] = Kind(fields: [i32, str, u32, u32, u32, u32, list], countField: 6, items: [i32])
        k[Int(EventKind.deviceState.rawValue)] = Kind(
            fields: [i32, str, oneOf(DeviceStateChange.MigrationProtocol.self), oneOf(DeviceStateChange.Operation.self), u32, u32, i32],
            countField: nil, items: [])
        k[Int(EventKind.mapping.rawValue)] = Kind(
            fields: [oneOf(MappingChange.Operation.self), i32, str, i32, u64, u64, u64, u64, u64, u32, u32, u64], countField: nil, items: [])
        k[Int(EventKind.memslot.rawValue)] = Kind(fields: [i32, u32, u32, u64, u64, u64], countField: nil, items: [])
        k[Int(EventKind.eventfd.rawValue)] = Kind(fields: [oneOf(EventfdOp.Operation.self), i32, u64, u32], countField: nil, items: [])
        k[Int(EventKind.irqfd.rawValue)] = Kind(fields: [i32, i32, u32, u32, i32], countField: nil, items: [])
        k[Int(EventKind.regionAccess.rawValue)] = Kind(
            fields: [oneOf(RegionAccess.Operation.self), i32, str, i32, u64, u64, u64], countField: nil, items: [])
        k[Int(EventKind.fd.rawValue)] = Kind(fields: [oneOf(FdChange.Operation.self), i32, i32, fdKind, str], countField: nil, items: [])
        k[Int(EventKind.process.rawValue)] = Kind(fields: [oneOf(ProcessChange.Operation.self), i32, i32, str], countField: nil, items: [])
        k[Int(EventKind.marker.rawValue)] = Kind(fields: [str, str, str, list], countField: 3, items: [str, str])
        k[Int(EventKind.lost.rawValue)] = Kind(fields: [u64, u64, u64], countField: nil, items: [])
        return k
    }()

    /// The width a column takes for values up to `maximum`: 0 to 8 bytes.
    @inline(__always)
    static func width(for maximum: UInt64) -> Int { (64 - maximum.leadingZeroBitCount + 7) >> 3 }

    @inline(__always) static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    @inlinable @inline(__always) static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1))) }
}

/// One column of a decoded chunk: where its values start, how wide each is. A value is read with one unaligned
/// 8-byte load and a mask, so the buffer holding the column has `TraceFormat.rawPadding` readable bytes after it.
@usableFromInline
struct Column {
    @usableFromInline var base: UnsafeRawPointer
    @usableFromInline var width: Int
    @usableFromInline var mask: UInt64

    init(base: UnsafeRawPointer, width: Int) {
        self.base = base
        self.width = width
        mask = width >= 8 ? .max : (1 << UInt64(width * 8)) &- 1
    }

    @inlinable @inline(__always)
    func load(_ row: Int) -> UInt64 {
        UInt64(littleEndian: (base + row &* width).loadUnaligned(as: UInt64.self)) & mask
    }
}
