/// The when and who of one event, without its payload: what every consumer needs of every event.
public struct EventHeader: Sendable, Hashable {
    /// CLOCK_MONOTONIC nanoseconds at syscall entry (or the instant of a non-syscall event).
    public var time: UInt64
    /// CLOCK_MONOTONIC nanoseconds at syscall exit; equal to `time` for instantaneous events.
    public var endTime: UInt64
    public var pid: Int32
    public var tid: Int32
    /// The syscall's return value, or `-errno` when it failed; 0 where no syscall is involved.
    public var result: Int64

    public init(time: UInt64, endTime: UInt64, pid: Int32, tid: Int32, result: Int64) {
        self.time = time
        self.endTime = endTime
        self.pid = pid
        self.tid = tid
        self.result = result
    }

    /// True when the syscall returned an error (`result` holds `-errno`).
    @inline(__always) public var failed: Bool { result < 0 && result >= -4095 }
    public var errno: Int32? { failed ? Int32(-result) : nil }
}

extension TraceEvent {
    public var header: EventHeader { EventHeader(time: time, endTime: endTime, pid: pid, tid: tid, result: result) }
}

/// The chunk being decoded, shared by the views of its events: its string table, its bytes, and where each column
/// of its payloads lies (for a version 1 chunk, in a scratch area the decoder fills batch by batch).
@usableFromInline
final class DecodedChunk {
    var table: [String] = []
    var raw = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The format version of the chunk's body: where a view's list lies depends on it.
    var version: UInt16 = TraceFormat.version
    /// `ColumnSchema.slotCount` columns, by slot.
    @usableFromInline let columns: UnsafeMutablePointer<Column>
    /// Which events carry a pid, a tid and a result (flags bits 1–3), 64 events a block: at `block × 4 + j` (j: 0 pid,
    /// 1 tid, 2 result), the block's mask (bit i: its event i carries the value) and how many events before the block
    /// carry it, so that a view finds its values in the header's columns without the values before it being decoded.
    // Read by every view's pid, tid and result: single-threaded, never written while views are read, so without the
    // dynamic exclusivity check (which costs more than the read).
    @exclusivity(unchecked) @usableFromInline private(set) var headerMasks: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) @usableFromInline private(set) var headerStarts: UnsafeMutablePointer<Int32>
    private var headerBlocks = 0
    /// Every event of the chunk has the same pid, `constantPid` (none carries one, or only the first does: the usual
    /// chunk of one VMM process), so a view's pid needs no look into the masks.
    @exclusivity(unchecked) @usableFromInline private(set) var pidIsConstant = false
    @exclusivity(unchecked) @usableFromInline private(set) var constantPid: Int32 = 0

    /// Notes whether the chunk's pids are all one, from how many events carry one (`carrying`) and the masks.
    func notePids(carrying: Int) {
        pidIsConstant = carrying == 0 || (carrying == 1 && headerBlocks > 0 && headerMasks[0] & 1 != 0)
        constantPid = carrying == 0 ? 0 : Int32(truncatingIfNeeded: ColumnSchema.unzigzag(columns[ColumnSchema.pidSlot].load(0)))
    }
    /// Version 1 chunks: each event's payload numbers, written where the columns point (allocated on first use).
    private(set) var scratch: UnsafeMutablePointer<UInt64>?
    /// What the columns point at before a chunk is decoded: 8 readable bytes.
    private let zeros = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

    init() {
        zeros.initialize(to: 0)
        columns = .allocate(capacity: ColumnSchema.slotCount)
        columns.initialize(repeating: Column(base: UnsafeRawPointer(zeros), width: 0), count: ColumnSchema.slotCount)
        headerMasks = .allocate(capacity: 0)
        headerStarts = .allocate(capacity: 0)
    }

    deinit {
        columns.deallocate()
        zeros.deallocate()
        scratch?.deallocate()
        headerMasks.deallocate()
        headerStarts.deallocate()
    }

    /// Room for the header masks of `blocks` blocks of 64 events (a chunk holds at most 2^18 events: 4,096 blocks).
    func reserveHeaderBlocks(_ blocks: Int) {
        guard blocks > headerBlocks else { return }
        headerMasks.deallocate()
        headerStarts.deallocate()
        headerMasks = .allocate(capacity: blocks * 4)
        headerStarts = .allocate(capacity: blocks * 4)
        headerMasks.initialize(repeating: 0, count: blocks * 4)
        headerStarts.initialize(repeating: 0, count: blocks * 4)
        headerBlocks = blocks
    }

    /// Points every column at the scratch area: `rows` values of 8 bytes per slot. Every event of a batch carries its
    /// pid, tid and result in the header's scratch columns, at its index in the batch.
    func useScratch(rows: Int) -> UnsafeMutablePointer<UInt64> {
        pidIsConstant = false
        let s: UnsafeMutablePointer<UInt64>
        if let scratch {
            s = scratch
        } else {
            s = .allocate(capacity: ColumnSchema.slotCount * rows)
            s.initialize(repeating: 0, count: ColumnSchema.slotCount * rows)
            scratch = s
        }
        for slot in 0..<ColumnSchema.slotCount { columns[slot] = Column(base: UnsafeRawPointer(s + slot * rows), width: 8) }
        let blocks = (rows + 63) / 64
        reserveHeaderBlocks(blocks)
        for b in 0..<blocks {
            for j in 0..<3 {
                headerMasks[b * 4 + j] = .max
                headerStarts[b * 4 + j] = Int32(b * 64)
            }
        }
        return s
    }
}

/// One event read in place from a decompressed chunk: its kind and times decoded; its pid, tid, result and payload
/// checked and left where they lie (the chunk's columns) until asked for.
///
/// A view borrows the chunk it was read from: it is valid only during the `visit` call that hands it over
/// (`TraceReader.nextChunk(views:)`); keep `event` or `payload`, never the view. Every field was checked
/// by the decoder exactly as `TraceEvent`'s decoding checks it, so building the payload cannot fail.
///
/// Consumers that need only some kinds, or only some fields (the analyzer's KVM_RUN ioctls, eventfd traffic
/// and region accesses), read them here without building a `TraceEvent`: no allocation, no reference counting.
public struct EventView {
    /// CLOCK_MONOTONIC nanoseconds at syscall entry, and at its exit (`EventHeader`).
    public let time: UInt64
    public let endTime: UInt64
    public let kind: EventKind
    /// The event's row in its kind's columns.
    @usableFromInline let row: Int32
    /// Where its list starts: the first item's row in the kind's item columns (a version 1 chunk: a byte offset).
    let listAt: Int32
    /// The event's index in its chunk (version 1: in its batch): where its pid, tid and result are found, on asking.
    @usableFromInline let index: Int32
    @usableFromInline unowned(unsafe) let chunk: DecodedChunk

    init(time: UInt64, endTime: UInt64, kind: EventKind, row: Int32, listAt: Int32, index: Int32, chunk: DecodedChunk) {
        self.time = time
        self.endTime = endTime
        self.kind = kind
        self.row = row
        self.listAt = listAt
        self.index = index
        self.chunk = chunk
    }

    /// Header value `j` (0 pid, 1 tid, 2 result: the header's slots 2–4) as stored (zigzag): that of the last event up
    /// to this one carrying it where `carried` (pid and tid), of this one only otherwise (result); 0 where there is none.
    @inlinable @inline(__always) func headerValue(_ j: Int, carried: Bool) -> UInt64 {
        let b = Int(index &>> 6) &* 4 &+ j
        let bit = UInt64(truncatingIfNeeded: index & 63)
        let m = chunk.headerMasks[b]
        let n = Int(chunk.headerStarts[b]) &+ (m & (UInt64.max &>> (63 &- bit))).nonzeroBitCount
        let has = carried ? n > 0 : m &>> bit & 1 != 0
        // Row 0 of a column is always readable (padding follows the chunk), so the load needs no branch.
        let v = chunk.columns[ColumnSchema.pidSlot &+ j].load(max(n &- 1, 0))
        return has ? v : 0
    }

    @inlinable public var pid: Int32 {
        if chunk.pidIsConstant { return chunk.constantPid }
        return Int32(truncatingIfNeeded: ColumnSchema.unzigzag(headerValue(0, carried: true)))
    }
    @inlinable public var tid: Int32 { Int32(truncatingIfNeeded: ColumnSchema.unzigzag(headerValue(1, carried: true))) }
    /// The syscall's return value, or `-errno`; 0 where no syscall is involved.
    @inlinable public var result: Int64 { ColumnSchema.unzigzag(headerValue(2, carried: false)) }
    @inlinable public var failed: Bool {
        let r = result
        return r < 0 && r >= -4095
    }
    /// The when and who, whole (each part read on asking: consumers that need only times read only those).
    @inlinable public var header: EventHeader { EventHeader(time: time, endTime: endTime, pid: pid, tid: tid, result: result) }

    /// Field `i` of the payload as stored: signed values zigzag-encoded, strings as table indices, enums as raw values.
    @inlinable @inline(__always) func field(_ i: Int) -> UInt64 {
        chunk.columns[Int(kind.rawValue) &* ColumnSchema.slotsPerKind &+ i].load(Int(row))
    }
    @inlinable @inline(__always) func u64(_ i: Int) -> UInt64 { field(i) }
    @inlinable @inline(__always) func i32(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: ColumnSchema.unzigzag(field(i))) }
    @inlinable @inline(__always) func u32(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: field(i)) }
    @inline(__always) private func str(_ i: Int) -> String { chunk.table[Int(truncatingIfNeeded: field(i))] }
    /// An enum raw value the decoder already checked.
    @inlinable @inline(__always) func enumValue<T: RawRepresentable>(_ i: Int, _ fallback: T) -> T where T.RawValue == UInt8 {
        T(rawValue: UInt8(truncatingIfNeeded: field(i))) ?? fallback
    }

    /// The owned event (copies what it needs out of the chunk).
    public var event: TraceEvent {
        TraceEvent(time: time, endTime: endTime, pid: pid, tid: tid, result: result, payload: payload)
    }

    // MARK: - Fast accessors (no allocation)

    /// The request of an `.ioctl` event (KVM_RUN, KVM_CREATE_VM, ...); nil for other kinds.
    @inlinable public var ioctlRequest: UInt32? { kind == .ioctl ? u32(2) : nil }

    /// The payload of an `.eventfd` event; nil for other kinds.
    @inlinable public var eventfd: EventfdOp? {
        guard kind == .eventfd else { return nil }
        return EventfdOp(operation: enumValue(0, .read), fd: i32(1), value: u64(2), flags: u32(3))
    }

    /// The fd of an `.eventfd` event and whether the event creates it, without the rest of its payload; nil for other
    /// kinds.
    @inlinable @inline(__always) public var eventfdTarget: (fd: Int32, creates: Bool)? {
        guard kind == .eventfd else { return nil }
        return (i32(1), field(0) == UInt64(EventfdOp.Operation.create.rawValue))
    }

    /// The region index of a `.regionAccess` event without its strings; nil for other kinds.
    @inlinable public var accessedRegion: Int32? { kind == .regionAccess ? i32(3) : nil }

    /// The device of a `.regionAccess` event (the chunk's own string, not a copy); nil for other kinds.
    @inline(__always) public var accessedDevice: String? { kind == .regionAccess ? str(2) : nil }

    // MARK: - The owned payload

    public var payload: EventPayload {
        switch kind {
        case .vfioIoctl:
            return .vfioIoctl(VFIOIoctl(fd: i32(0), target: enumValue(1, .unknown), device: str(2), request: u32(3), argument: bytes()))
        case .ioctl:
            return .ioctl(GenericIoctl(fd: i32(0), target: enumValue(1, .unknown), request: u32(2), argument: u64(3)))
        case .deviceOpen:
            return .deviceOpen(DeviceOpen(fd: i32(0), groupFd: i32(1), device: str(2)))
        case .regionInfo:
            return .regionInfo(
                RegionInfo(
                    fd: i32(0), device: str(1), index: u32(2), flags: u32(3), size: u64(4), offset: u64(5),
                    regionType: u64(6) != 0 ? RegionInfo.RegionType(type: u32(7), subtype: u32(8)) : nil,
                    sparseAreas: listCount > 0 ? areas() : nil))
        case .irqBinding:
            return .irqBinding(
                IrqBinding(fd: i32(0), device: str(1), index: u32(2), start: u32(3), count: u32(4), flags: u32(5), eventfds: eventfds()))
        case .deviceState:
            return .deviceState(
                DeviceStateChange(
                    fd: i32(0), device: str(1), migrationProtocol: enumValue(2, .v2), operation: enumValue(3, .get),
                    requested: u32(4), resulting: u32(5), dataFd: i32(6)))
        case .mapping:
            return .mapping(
                MappingChange(
                    operation: enumValue(0, .mmap), fd: i32(1), device: str(2), region: i32(3), regionOffset: u64(4),
                    address: u64(5), length: u64(6), newAddress: u64(7), newLength: u64(8), prot: u32(9), flags: u32(10), fileOffset: u64(11)))
        case .memslot:
            return .memslot(Memslot(vmFd: i32(0), slot: u32(1), flags: u32(2), guestPhys: u64(3), size: u64(4), userAddress: u64(5)))
        case .eventfd:
            return .eventfd(EventfdOp(operation: enumValue(0, .read), fd: i32(1), value: u64(2), flags: u32(3)))
        case .irqfd:
            return .irqfd(Irqfd(vmFd: i32(0), fd: i32(1), gsi: u32(2), flags: u32(3), resampleFd: i32(4)))
        case .regionAccess:
            return .regionAccess(
                RegionAccess(
                    operation: enumValue(0, .read), fd: i32(1), device: str(2), region: i32(3), offset: u64(4), length: u64(5), value: u64(6)))
        case .fd:
            return .fd(FdChange(operation: enumValue(0, .open), fd: i32(1), sourceFd: i32(2), kind: enumValue(3, .unknown), path: str(4)))
        case .process:
            return .process(ProcessChange(operation: enumValue(0, .exit), target: i32(1), status: i32(2), command: str(3)))
        case .marker:
            return .marker(Marker(source: str(0), name: str(1), device: str(2), fields: markerFields()))
        case .lost:
            return .lost(LostEvents(count: u64(0), fromNs: u64(1), toNs: u64(2)))
        }
    }

    /// The list's length as stored (for sparse areas: count + 1, 0 = no sparse capability).
    var listCount: Int {
        guard let c = ColumnSchema.kinds[Int(kind.rawValue)].countField else { return 0 }
        return Int(truncatingIfNeeded: field(c))
    }

    /// Item `j` of the list's column `c` (version 2).
    @inline(__always) private func item(_ c: Int, _ j: Int) -> UInt64 {
        chunk.columns[Int(kind.rawValue) &* ColumnSchema.slotsPerKind &+ ColumnSchema.itemSlot &+ c].load(Int(listAt) &+ j)
    }

    // A version 1 chunk's lists are read again from its bytes; the decoder checked them, so a failure here is a bug:
    // the list comes back empty rather than trapping.
    private var list: ByteReader {
        let raw = chunk.raw
        return ByteReader(raw, position: min(max(Int(listAt), 0), raw.count))
    }

    func bytes() -> [UInt8] {
        let n = listCount
        guard chunk.version >= 2 else {
            var r = list
            return (try? r.bytes(n)) ?? []
        }
        return (0..<n).map { UInt8(truncatingIfNeeded: item(0, $0)) }
    }

    func areas() -> [RegionInfo.Area] {
        let n = listCount - 1
        guard chunk.version >= 2 else {
            var r = list
            var out: [RegionInfo.Area] = []
            out.reserveCapacity(n)
            do throws(ByteReader.Malformed) {
                for _ in 0..<n { out.append(RegionInfo.Area(offset: try r.varint(), size: try r.varint())) }
            } catch {}
            return out
        }
        return (0..<n).map { RegionInfo.Area(offset: item(0, $0), size: item(1, $0)) }
    }

    func eventfds() -> [Int32] {
        let n = listCount
        guard chunk.version >= 2 else {
            var r = list
            var out: [Int32] = []
            out.reserveCapacity(n)
            do throws(ByteReader.Malformed) {
                for _ in 0..<n { out.append(try r.zigzag32()) }
            } catch {}
            return out
        }
        return (0..<n).map { Int32(truncatingIfNeeded: ColumnSchema.unzigzag(item(0, $0))) }
    }

    func markerFields() -> [Marker.Field] {
        let n = listCount
        let table = chunk.table
        guard chunk.version >= 2 else {
            var r = list
            var out: [Marker.Field] = []
            out.reserveCapacity(n)
            do throws(ByteReader.Malformed) {
                for _ in 0..<n {
                    let k = Int(truncatingIfNeeded: try r.varint())
                    let v = Int(truncatingIfNeeded: try r.varint())
                    guard k >= 0, k < table.count, v >= 0, v < table.count else { break }
                    out.append(Marker.Field(table[k], table[v]))
                }
            } catch {}
            return out
        }
        return (0..<n).map { Marker.Field(table[Int(truncatingIfNeeded: item(0, $0))], table[Int(truncatingIfNeeded: item(1, $0))]) }
    }
}
