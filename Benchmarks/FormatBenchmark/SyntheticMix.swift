import TraceFormat

/// A VMM-like event mix: trapped BAR accesses, eventfd interrupt traffic, KVM_RUN exits, occasional
/// VFIO setup, memslot and mapping changes, from a handful of threads with microsecond spacing.
struct SyntheticMix {
    private var rng: SplitMix64
    private var time: UInt64 = 5_000_000_000
    private let pid: Int32 = 4100
    private let devices = ["0000:00:05.0", "0000:00:06.0"]

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    private mutating func next() -> UInt64 { rng.next() }

    mutating func event() -> TraceEvent {
        let r = next()
        time += 200 + r % 3000
        let duration = 300 + (r >> 12) % 4000
        let tid = pid + 1 + Int32((r >> 20) % 5)
        let device = devices[Int((r >> 24) & 1)]
        let payload: EventPayload
        var result: Int64 = 0
        switch (r >> 32) % 100 {
        case 0..<40:
            let write = (r >> 40) & 1 == 0
            let offsets: [UInt64] = [0x0, 0x4, 0x8, 0x20, 0x60, 0x64, 0x80, 0x100]
            payload = .regionAccess(
                RegionAccess(
                    operation: write ? .write : .read, fd: 23, device: device, region: 0,
                    offset: offsets[Int((r >> 44) % 8)], length: 4, value: write ? (r >> 48) % 4 : 0x010000ed))
            result = 4
        case 40..<55:
            payload = .eventfd(EventfdOp(operation: .read, fd: 30 + Int32((r >> 40) % 4), value: 1))
            result = 8
        case 55..<70:
            payload = .eventfd(EventfdOp(operation: .write, fd: 30 + Int32((r >> 40) % 4), value: 1))
            result = 8
        case 70..<88:
            payload = .ioctl(GenericIoctl(fd: 40 + tid - pid, target: .kvmVCPU, request: 0xAE80))
        case 88..<92:
            payload = .memslot(
                Memslot(
                    vmFd: 12, slot: 5, guestPhys: 0xFE00_0000, size: (r >> 40) & 1 == 0 ? 0 : 0x10_0000,
                    userAddress: 0x7F3A_4C00_0000))
        case 92..<95:
            let unmap = (r >> 40) & 1 == 0
            payload = .mapping(
                MappingChange(
                    operation: unmap ? .munmap : .mmap, fd: 23, device: device, region: 0,
                    address: 0x7F3A_4C00_0000, length: 0x10_0000, prot: 3, flags: 0x11))
        case 95..<98:
            payload = .regionInfo(
                RegionInfo(
                    fd: 23, device: device, index: 0, flags: 0xF, size: 0x10_0000, offset: 0,
                    sparseAreas: (r >> 40) & 1 == 0 ? [] : [RegionInfo.Area(offset: 0, size: 0x10_0000)]))
        default:
            payload = .deviceState(DeviceStateChange(fd: 23, device: device, migrationProtocol: .v2, requested: 6, resulting: 6))
        }
        return TraceEvent(time: time, endTime: time + duration, pid: pid, tid: tid, result: result, payload: payload)
    }
}
