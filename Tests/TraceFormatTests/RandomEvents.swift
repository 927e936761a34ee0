import TraceFormat

/// Random events covering every kind and the extremes of every field, for round-trip properties.
struct RandomEvents {
    var rng: SplitMix64
    var time: UInt64 = 1_000_000_000

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func u64() -> UInt64 {
        switch rng.next() % 4 {
        case 0: return 0
        case 1: return UInt64.max - rng.next() % 3
        case 2: return rng.next() % 300
        default: return rng.next()
        }
    }
    mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: u64()) }
    mutating func i32() -> Int32 { Int32(truncatingIfNeeded: u64()) }
    mutating func string() -> String {
        let pool = ["", "0000:00:05.0", "vfio-device", "élan ✓", "a\"b\\c\n", "/dev/vfio/42", String(repeating: "x", count: 300)]
        return pool[Int(rng.next() % UInt64(pool.count))]
    }
    mutating func bytes() -> [UInt8] { (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

    mutating func payload() -> EventPayload {
        switch rng.next() % 15 {
        case 0:
            return .vfioIoctl(
                VFIOIoctl(fd: i32(), target: FdKind.allCases.randomElement(using: &rng)!, device: string(), request: u32(), argument: bytes()))
        case 1: return .ioctl(GenericIoctl(fd: i32(), target: .kvmVCPU, request: u32(), argument: u64()))
        case 2: return .deviceOpen(DeviceOpen(fd: i32(), groupFd: i32(), device: string()))
        case 3:
            let areas: [RegionInfo.Area]? =
                rng.next() % 3 == 0 ? nil : (0..<Int(rng.next() % 4)).map { _ in RegionInfo.Area(offset: u64(), size: u64()) }
            let type: RegionInfo.RegionType? = rng.next() % 2 == 0 ? nil : .init(type: u32(), subtype: u32())
            return .regionInfo(
                RegionInfo(fd: i32(), device: string(), index: u32(), flags: u32(), size: u64(), offset: u64(), regionType: type, sparseAreas: areas))
        case 4:
            return .irqBinding(
                IrqBinding(
                    fd: i32(), device: string(), index: u32(), start: u32(), count: u32(), flags: u32(),
                    eventfds: (0..<Int(rng.next() % 5)).map { _ in i32() }))
        case 5:
            return .deviceState(
                DeviceStateChange(
                    fd: i32(), device: string(), migrationProtocol: rng.next() % 2 == 0 ? .v1 : .v2,
                    operation: rng.next() % 2 == 0 ? .set : .get, requested: u32(), resulting: u32(), dataFd: i32()))
        case 6:
            return .mapping(
                MappingChange(
                    operation: [.mmap, .munmap, .mremap][Int(rng.next() % 3)], fd: i32(), device: string(), region: i32(),
                    regionOffset: u64(), address: u64(), length: u64(), newAddress: u64(), newLength: u64(), prot: u32(), flags: u32(),
                    fileOffset: u64()))
        case 7: return .memslot(Memslot(vmFd: i32(), slot: u32(), flags: u32(), guestPhys: u64(), size: u64(), userAddress: u64()))
        case 8: return .eventfd(EventfdOp(operation: [.create, .read, .write][Int(rng.next() % 3)], fd: i32(), value: u64(), flags: u32()))
        case 9: return .irqfd(Irqfd(vmFd: i32(), fd: i32(), gsi: u32(), flags: u32(), resampleFd: i32()))
        case 10:
            return .regionAccess(
                RegionAccess(
                    operation: rng.next() % 2 == 0 ? .read : .write, fd: i32(), device: string(), region: i32(), offset: u64(), length: u64(),
                    value: u64()))
        case 11:
            return .fd(
                FdChange(
                    operation: [.open, .close, .dup][Int(rng.next() % 3)], fd: i32(), sourceFd: i32(),
                    kind: FdKind.allCases.randomElement(using: &rng)!, path: string()))
        case 12: return .process(ProcessChange(operation: .exit, target: i32(), status: i32(), command: string()))
        case 13:
            return .marker(
                Marker(source: string(), name: string(), device: string(), fields: (0..<Int(rng.next() % 4)).map { _ in .init(string(), string()) }))
        default: return .lost(LostEvents(count: u64(), fromNs: u64(), toNs: u64()))
        }
    }

    mutating func event() -> TraceEvent {
        // Times move forward mostly, sometimes backwards (events are written at syscall exit, out of entry order).
        if rng.next() % 5 == 0 { time &-= rng.next() % 10_000 } else { time &+= rng.next() % 1_000_000 }
        if rng.next() % 50 == 0 { time = u64() }
        let end = rng.next() % 3 == 0 ? time : time &+ u64()
        let pid = rng.next() % 4 == 0 ? i32() : 4242
        let tid = rng.next() % 3 == 0 ? pid : (rng.next() % 4 == 0 ? i32() : 4243)
        return TraceEvent(
            time: time, endTime: end, pid: pid, tid: tid, result: rng.next() % 3 == 0 ? 0 : Int64(bitPattern: u64()), payload: payload())
    }

    mutating func events(_ n: Int) -> [TraceEvent] { (0..<n).map { _ in event() } }
}
