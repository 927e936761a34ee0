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

/// The string table and bytes of the chunk being decoded, shared by the views of its events.
final class ChunkStrings {
    var table: [String] = []
    var raw = UnsafeRawBufferPointer(start: nil, count: 0)
}

/// One event read in place from a decompressed chunk: its header decoded, its payload checked and kept as
/// numbers (string indices, list positions) until asked for.
///
/// A view borrows the chunk it was read from: it is valid only during the `visit` call that hands it over
/// (`TraceReader.nextChunk(views:)`); keep `event` or `payload`, never the view. Every field was checked
/// by the decoder exactly as `TraceEvent`'s decoding checks it, so building the payload cannot fail.
///
/// Consumers that need only some kinds, or only some fields (the analyzer's KVM_RUN ioctls, eventfd traffic
/// and region accesses), read them here without building a `TraceEvent`: no allocation, no reference counting.
public struct EventView {
    public let header: EventHeader
    public let kind: EventKind
    /// The payload's numbers in the kind's field order (signed values as their bit pattern, strings as
    /// table indices, enums as raw values); see `payload`.
    var s: InlineArray<12, UInt64>
    /// Where the payload's list (argument bytes, sparse areas, eventfds, marker fields) starts in the chunk.
    var listAt: Int
    /// The list's length as stored (for sparse areas: count + 1, 0 = no sparse capability).
    var listCount: Int
    unowned(unsafe) let chunk: ChunkStrings

    @inline(__always) public var time: UInt64 { header.time }
    @inline(__always) public var endTime: UInt64 { header.endTime }
    @inline(__always) public var pid: Int32 { header.pid }
    @inline(__always) public var tid: Int32 { header.tid }
    @inline(__always) public var result: Int64 { header.result }
    @inline(__always) public var failed: Bool { header.failed }

    @inline(__always) private func i32(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: Int64(bitPattern: s[i])) }
    @inline(__always) private func u32(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: s[i]) }
    @inline(__always) private func str(_ i: Int) -> String { chunk.table[Int(truncatingIfNeeded: s[i])] }
    /// An enum raw value the decoder already checked.
    @inline(__always) private func enumValue<T: RawRepresentable>(_ i: Int, _ fallback: T) -> T where T.RawValue == UInt8 {
        T(rawValue: UInt8(truncatingIfNeeded: s[i])) ?? fallback
    }

    /// The owned event (copies what it needs out of the chunk).
    public var event: TraceEvent {
        TraceEvent(time: header.time, endTime: header.endTime, pid: header.pid, tid: header.tid, result: header.result, payload: payload)
    }

    // MARK: - Fast accessors (no allocation)

    /// The request of an `.ioctl` event (KVM_RUN, KVM_CREATE_VM, ...); nil for other kinds.
    @inline(__always) public var ioctlRequest: UInt32? { kind == .ioctl ? u32(2) : nil }

    /// The payload of an `.eventfd` event; nil for other kinds.
    @inline(__always) public var eventfd: EventfdOp? {
        guard kind == .eventfd else { return nil }
        return EventfdOp(operation: enumValue(0, .read), fd: i32(1), value: s[2], flags: u32(3))
    }

    /// The region index of a `.regionAccess` event without its strings; nil for other kinds.
    @inline(__always) public var accessedRegion: Int32? { kind == .regionAccess ? i32(3) : nil }

    /// The device of a `.regionAccess` event (the chunk's own string, not a copy); nil for other kinds.
    @inline(__always) public var accessedDevice: String? { kind == .regionAccess ? str(2) : nil }

    // MARK: - The owned payload

    public var payload: EventPayload {
        switch kind {
        case .vfioIoctl:
            return .vfioIoctl(VFIOIoctl(fd: i32(0), target: enumValue(1, .unknown), device: str(2), request: u32(3), argument: bytes()))
        case .ioctl:
            return .ioctl(GenericIoctl(fd: i32(0), target: enumValue(1, .unknown), request: u32(2), argument: s[3]))
        case .deviceOpen:
            return .deviceOpen(DeviceOpen(fd: i32(0), groupFd: i32(1), device: str(2)))
        case .regionInfo:
            return .regionInfo(
                RegionInfo(
                    fd: i32(0), device: str(1), index: u32(2), flags: u32(3), size: s[4], offset: s[5],
                    regionType: s[6] != 0 ? RegionInfo.RegionType(type: u32(7), subtype: u32(8)) : nil,
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
                    operation: enumValue(0, .mmap), fd: i32(1), device: str(2), region: i32(3), regionOffset: s[4],
                    address: s[5], length: s[6], newAddress: s[7], newLength: s[8], prot: u32(9), flags: u32(10), fileOffset: s[11]))
        case .memslot:
            return .memslot(Memslot(vmFd: i32(0), slot: u32(1), flags: u32(2), guestPhys: s[3], size: s[4], userAddress: s[5]))
        case .eventfd:
            return .eventfd(EventfdOp(operation: enumValue(0, .read), fd: i32(1), value: s[2], flags: u32(3)))
        case .irqfd:
            return .irqfd(Irqfd(vmFd: i32(0), fd: i32(1), gsi: u32(2), flags: u32(3), resampleFd: i32(4)))
        case .regionAccess:
            return .regionAccess(
                RegionAccess(
                    operation: enumValue(0, .read), fd: i32(1), device: str(2), region: i32(3), offset: s[4], length: s[5], value: s[6]))
        case .fd:
            return .fd(FdChange(operation: enumValue(0, .open), fd: i32(1), sourceFd: i32(2), kind: enumValue(3, .unknown), path: str(4)))
        case .process:
            return .process(ProcessChange(operation: enumValue(0, .exit), target: i32(1), status: i32(2), command: str(3)))
        case .marker:
            return .marker(Marker(source: str(0), name: str(1), device: str(2), fields: markerFields()))
        case .lost:
            return .lost(LostEvents(count: s[0], fromNs: s[1], toNs: s[2]))
        }
    }

    // Lists are read again from the chunk; the decoder checked them, so a failure here is a bug: the list
    // comes back empty rather than trapping.
    private var list: ByteReader {
        let raw = chunk.raw
        return ByteReader(raw, position: min(max(listAt, 0), raw.count))
    }

    private func bytes() -> [UInt8] {
        var r = list
        return (try? r.bytes(listCount)) ?? []
    }

    private func areas() -> [RegionInfo.Area] {
        var r = list
        var out: [RegionInfo.Area] = []
        out.reserveCapacity(listCount - 1)
        do throws(ByteReader.Malformed) {
            for _ in 0..<(listCount - 1) { out.append(RegionInfo.Area(offset: try r.varint(), size: try r.varint())) }
        } catch {}
        return out
    }

    private func eventfds() -> [Int32] {
        var r = list
        var out: [Int32] = []
        out.reserveCapacity(listCount)
        do throws(ByteReader.Malformed) {
            for _ in 0..<listCount { out.append(try r.zigzag32()) }
        } catch {}
        return out
    }

    private func markerFields() -> [Marker.Field] {
        var r = list
        let table = chunk.table
        var out: [Marker.Field] = []
        out.reserveCapacity(listCount)
        do throws(ByteReader.Malformed) {
            for _ in 0..<listCount {
                let k = Int(truncatingIfNeeded: try r.varint())
                let v = Int(truncatingIfNeeded: try r.varint())
                guard k >= 0, k < table.count, v >= 0, v < table.count else { break }
                out.append(Marker.Field(table[k], table[v]))
            }
        } catch {}
        return out
    }
}
