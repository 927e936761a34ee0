import Testing
import TraceFormat

@testable import TraceRecorder

/// Decoding of VFIO/KVM structs and fd/mapping tracking, from hand-built memory (layouts per include/uapi/linux/vfio.h).
@Suite struct DecoderTests {
    let nr = SyscallTable.x86_64
    func rec(_ s: Syscall, _ args: [UInt64], _ result: Int64) -> SyscallRecord {
        SyscallRecord(pid: 100, tid: 101, syscall: s, number: nr.number(of: s) ?? 0, args: args, result: result, entryNs: 1000, exitNs: 2000)
    }

    /// Decoder with container 3, group 4 and device fd 5 ("0000:00:05.0") already opened.
    func setup(_ mem: FakeMemory) -> SyscallDecoder {
        let d = SyscallDecoder()
        mem.place(Array("/dev/vfio/vfio\0".utf8), at: 0x1000)
        mem.place(Array("/dev/vfio/42\0".utf8), at: 0x1100)
        mem.place(Array("0000:00:05.0\0".utf8), at: 0x1200)
        _ = d.decode(rec(.openat, [UInt64(bitPattern: -100), 0x1000, 0o2000002], 3), memory: mem)
        _ = d.decode(rec(.openat, [UInt64(bitPattern: -100), 0x1100, 2], 4), memory: mem)
        let ev = d.decode(rec(.ioctl, [4, 0x3B6A, 0x1200], 5), memory: mem)
        #expect(ev.first?.payload == .deviceOpen(DeviceOpen(fd: 5, groupFd: 4, device: "0000:00:05.0")))
        return d
    }

    @Test("region info with a sparse-mmap and a type capability")
    func regionInfoCaps() {
        let mem = FakeMemory()
        let d = setup(mem)
        var s = Bytes()
        s.u32(80); s.u32(0xF); s.u32(9); s.u32(32); s.u64(0x1000); s.u64(9 << 40)  // vfio_region_info
        s.u16(2); s.u16(1); s.u32(48); s.u32(3); s.u32(1)  // cap TYPE @32 -> next 48
        s.u16(1); s.u16(1); s.u32(0); s.u32(1); s.u32(0); s.u64(0x100); s.u64(0x200)  // cap SPARSE @48, 1 area
        mem.place(s.b, at: 0x2000)
        let ev = d.decode(rec(.ioctl, [5, 0x3B6C, 0x2000], 0), memory: mem)
        guard case .regionInfo(let info) = ev.first?.payload else { Issue.record("no region info: \(ev)"); return }
        #expect(info.index == 9)
        #expect(info.size == 0x1000)
        #expect(info.offset == 9 << 40)
        #expect(info.regionType == RegionInfo.RegionType(type: 3, subtype: 1))
        #expect(info.sparseAreas == [RegionInfo.Area(offset: 0x100, size: 0x200)])
        #expect(info.device == "0000:00:05.0")
    }

    @Test(
        "a looping or oversized capability chain ends without hanging or over-reading",
        arguments: [(next: UInt32(32), areas: UInt32(3)), (next: 8, areas: 0xFFFF_FFFF), (next: 4000, areas: 1_000_000)])
    func maliciousChain(next: UInt32, areas: UInt32) {
        let mem = FakeMemory()
        let d = setup(mem)
        var s = Bytes()
        s.u32(64); s.u32(0xF); s.u32(0); s.u32(32); s.u64(0x100000); s.u64(0)
        s.u16(1); s.u16(1); s.u32(next); s.u32(areas); s.u32(0); s.u64(0); s.u64(0x1000)
        mem.place(s.b, at: 0x2000)
        let ev = d.decode(rec(.ioctl, [5, 0x3B6C, 0x2000], 0), memory: mem)
        guard case .regionInfo(let info) = ev.first?.payload else { Issue.record("no region info"); return }
        // argsz 64 leaves room for exactly one 16-byte area after the 16-byte cap header at 32.
        #expect((info.sparseAreas?.count ?? 0) <= 1)
    }

    @Test("SET_IRQS binds eventfds; device_state via DEVICE_FEATURE; v1 via pwrite of the migration region")
    func irqsAndState() {
        let mem = FakeMemory()
        let d = setup(mem)
        var irq = Bytes()
        irq.u32(28); irq.u32(0x24); irq.u32(5); irq.u32(0); irq.u32(2); irq.u32(7); irq.u32(UInt32(bitPattern: -1))
        mem.place(irq.b, at: 0x3000)
        let e1 = d.decode(rec(.ioctl, [5, 0x3B6E, 0x3000], 0), memory: mem)
        #expect(
            e1.first?.payload == .irqBinding(IrqBinding(fd: 5, device: "0000:00:05.0", index: 5, start: 0, count: 2, flags: 0x24, eventfds: [7, -1])))
        var feat = Bytes()
        feat.u32(16); feat.u32(0x20002); feat.u32(6); feat.u32(9)
        mem.place(feat.b, at: 0x3100)
        let e2 = d.decode(rec(.ioctl, [5, 0x3B75, 0x3100], 0), memory: mem)
        #expect(
            e2.first?.payload
                == .deviceState(DeviceStateChange(fd: 5, device: "0000:00:05.0", migrationProtocol: .v2, requested: 6, resulting: 6, dataFd: 9)))
        // v1: region 9 is the migration region (type 3/1); a 4-byte pwrite at its offset 0 is device_state.
        var s = Bytes()
        s.u32(48); s.u32(0xB); s.u32(9); s.u32(32); s.u64(0x1000); s.u64(9 << 40)
        s.u16(2); s.u16(1); s.u32(0); s.u32(3); s.u32(1)
        mem.place(s.b, at: 0x2000)
        _ = d.decode(rec(.ioctl, [5, 0x3B6C, 0x2000], 0), memory: mem)
        mem.place([3, 0, 0, 0], at: 0x4000)
        let e3 = d.decode(rec(.pwrite64, [5, 0x4000, 4, 9 << 40], 4), memory: mem)
        #expect(
            e3.first?.payload == .deviceState(DeviceStateChange(fd: 5, device: "0000:00:05.0", migrationProtocol: .v1, requested: 3, resulting: 3)))
        // Other accesses are region accesses with the region decoded from the offset.
        mem.place([0xED, 0, 0, 1], at: 0x4100)
        let e4 = d.decode(rec(.pread64, [5, 0x4100, 4, 0x60], 4), memory: mem)
        #expect(
            e4.first?.payload
                == .regionAccess(
                    RegionAccess(operation: .read, fd: 5, device: "0000:00:05.0", region: 0, offset: 0x60, length: 4, value: 0x0100_00ED)))
    }

    @Test("fd roles follow dup, close, fork and close-on-exec; ioctl names depend on the role")
    func fdTable() {
        let mem = FakeMemory()
        let d = setup(mem)
        // 0x3b71 on the container is IOMMU_MAP_DMA; dup the container and check the role carries over.
        _ = d.decode(rec(.dup, [3], 10), memory: mem)
        mem.place([32, 0, 0, 0] + Array(repeating: 0, count: 28), at: 0x5000)
        let e = d.decode(rec(.ioctl, [10, 0x3B71, 0x5000], 0), memory: mem)
        guard case .vfioIoctl(let io) = e.first?.payload else { Issue.record("no ioctl"); return }
        #expect(io.target == .vfioContainer)
        #expect(IoctlNames.name(request: io.request, target: io.target) == "VFIO_IOMMU_MAP_DMA")
        #expect(IoctlNames.name(request: 0x3B71, target: .vfioDevice) == "VFIO_DEVICE_PCI_HOT_RESET")
        d.processForked(parent: 100, child: 200)
        d.processExec(pid: 100)
        // The container was opened O_CLOEXEC (fd 3) and the device fd is cloexec: gone after exec; the group (4) stays.
        #expect(d.process(100).fds.kind(3) == .unknown)
        #expect(d.process(100).fds.kind(4) == .vfioGroup)
        #expect(d.process(200).fds.kind(3) == .vfioContainer)
        _ = d.decode(rec(.close, [4], 0), memory: mem)
        #expect(d.process(100).fds.kind(4) == .unknown)
    }

    @Test("a partial munmap maps back to the device subrange and splits the mapping")
    func partialUnmap() {
        let mem = FakeMemory()
        let d = setup(mem)
        let base: UInt64 = 0x7F00_0000_0000
        let m = d.decode(rec(.mmap, [0, 0x100000, 3, 1, 5, 0], Int64(base)), memory: mem)
        #expect(m.count == 1)
        let u = d.decode(rec(.munmap, [base + 0x4000, 0x2000], 0), memory: mem)
        #expect(
            u.first?.payload
                == .mapping(
                    MappingChange(
                        operation: .munmap, device: "0000:00:05.0", region: 0, regionOffset: 0x4000,
                        address: base + 0x4000, length: 0x2000)))
        // Unmapping a range covering both remaining pieces reports both, with their region offsets.
        let u2 = d.decode(rec(.munmap, [base, 0x100000], 0), memory: mem)
        let pieces = u2.compactMap { e -> (UInt64, UInt64)? in
            if case .mapping(let c) = e.payload { return (c.regionOffset, c.length) }
            return nil
        }
        #expect(pieces.map(\.0) == [0, 0x6000])
        #expect(pieces.map(\.1) == [0x4000, 0x100000 - 0x6000])
    }

    @Test("KVM memslots and irqfds are decoded from struct kvm_userspace_memory_region / kvm_irqfd")
    func kvm() {
        let mem = FakeMemory()
        let d = SyscallDecoder()
        mem.place(Array("/dev/kvm\0".utf8), at: 0x1000)
        _ = d.decode(rec(.openat, [0, 0x1000, 2], 3), memory: mem)
        _ = d.decode(rec(.ioctl, [3, 0xAE01, 0], 4), memory: mem)
        var s = Bytes()
        s.u32(5); s.u32(0); s.u64(0xFE00_0000); s.u64(0); s.u64(0x7F00_0000_0000)
        mem.place(s.b, at: 0x2000)
        let e = d.decode(rec(.ioctl, [4, 0x4020_AE46, 0x2000], 0), memory: mem)
        #expect(e.first?.payload == .memslot(Memslot(vmFd: 4, slot: 5, guestPhys: 0xFE00_0000, size: 0, userAddress: 0x7F00_0000_0000)))
        var i = Bytes()
        i.u32(9); i.u32(24); i.u32(0); i.u32(UInt32(bitPattern: -1))
        mem.place(i.b, at: 0x3000)
        let f = d.decode(rec(.ioctl, [4, 0x4020_AE76, 0x3000], 0), memory: mem)
        #expect(f.first?.payload == .irqfd(Irqfd(vmFd: 4, fd: 9, gsi: 24, flags: 0, resampleFd: -1)))
    }
}
