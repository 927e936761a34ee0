import Testing
import TraceFormat

@testable import TraceRecorder

/// What the traced process, /proc, fdinfo and sysfs hand the recorder is theirs to shape: crafted values that
/// trapped (a conversion, an overflow, a Range whose bounds cross) or grew without bound are neither.
@Suite struct HostileInputTests {
    let nr = SyscallTable.x86_64
    func rec(_ s: Syscall, _ args: [UInt64], _ result: Int64) -> SyscallRecord {
        SyscallRecord(pid: 100, tid: 101, syscall: s, number: nr.number(of: s) ?? 0, args: args, result: result, entryNs: 1000, exitNs: 2000)
    }

    /// A decoder whose process 100 has device fd 5 ("dev") open.
    func withDevice() -> SyscallDecoder {
        let d = SyscallDecoder()
        _ = d.adoptOpenFds(pid: 100, fds: [(5, "anon_inode:[vfio-device]")], deviceNames: [5: "dev"])
        return d
    }

    @Test("a maps line spanning more than 2^63 bytes is adopted with its length (Range.count would trap)")
    func hugeMapsRange() throws {
        let maps = "0-ffffffffffffffff rw-s 00000000 00:0e 7 anon_inode:[vfio-device]\n"
        let m = try #require(AttachedState.deviceMappings(maps: maps).first)
        let change = withDevice().adoptMapping(pid: 100, fd: 5, user: m.user, fileOffset: m.fileOffset, prot: m.prot)
        #expect(change?.length == UInt64.max)
    }

    @Test("munmap, mmap and mremap ranges that run past 2^64 are ignored, not trapped on")
    func wrappingRanges() {
        let d = withDevice()
        let mem = FakeMemory()
        let top: UInt64 = 0xFFFF_FFFF_FFFF_F000
        #expect(d.decode(rec(.munmap, [top, 0x2000], 0), memory: mem).isEmpty)
        #expect(d.decode(rec(.mmap, [0, 0x2000, 3, 1, 5, 0], Int64(bitPattern: top)), memory: mem).isEmpty)
        // A real device mapping, then a move whose new end wraps, and one whose length would overflow its region offset.
        #expect(d.decode(rec(.mmap, [0, 0x1000, 3, 1, 5, 0], 0x10000), memory: mem).count == 1)
        #expect(d.decode(rec(.mremap, [0x10000, 0x1000, 0x2000, 1, 0], Int64(bitPattern: top)), memory: mem).isEmpty)
        #expect(d.decode(rec(.mremap, [0x10000, 0x1000, UInt64.max, 1, 0], 0x20000), memory: mem).isEmpty)
        // The mapping is still there to unmap.
        #expect(d.decode(rec(.munmap, [0x10000, 0x1000], 0), memory: mem).count == 1)
    }

    @Test("a mapping whose region offset plus length passes 2^64 is not tracked, so splitting it cannot overflow")
    func regionOffsetNearTop() {
        let d = withDevice()
        let mem = FakeMemory()
        // GET_REGION_INFO's answer (the tracee's memory): region 0 at offset 0 with size 2^64 - 1.
        var s = Bytes()
        s.u32(32); s.u32(0); s.u32(0); s.u32(0); s.u64(UInt64.max); s.u64(0)
        mem.place(s.b, at: 0x2000)
        _ = d.decode(rec(.ioctl, [5, 0x3B6C, 0x2000], 0), memory: mem)
        let mapped = d.decode(rec(.mmap, [0, 0x3000, 3, 1, 5, 0xFFFF_FFFF_FFFF_F000], 0x10000), memory: mem)
        #expect(mapped.count == 1, "the mmap itself is recorded")
        // Unmapping its middle page: the table would add 2^64 - 4096 + 4096.
        #expect(d.decode(rec(.munmap, [0x11000, 0x1000], 0), memory: mem).isEmpty)
    }

    @Test("pread/preadv with a length past Int.max or a result below -4095 (no errno) is no trap")
    func regionAccessLengths() {
        let d = withDevice()
        let mem = FakeMemory()
        mem.place([1, 2, 3, 4, 5, 6, 7, 8], at: 0x3000)
        let r = d.decode(rec(.pread64, [5, 0x3000, UInt64.max, 0], 4), memory: mem)
        guard case .regionAccess(let a) = r.first?.payload else {
            Issue.record("no region access: \(r)")
            return
        }
        #expect(a.length == 4 && a.value == 0x0403_0201)
        var iov = Bytes()
        iov.u64(0x3000); iov.u64(8)
        mem.place(iov.b, at: 0x4000)
        let v = d.decode(rec(.preadv, [5, 0x4000, 1, 0], -5000), memory: mem)
        guard case .regionAccess(let b) = v.first?.payload else {
            Issue.record("no region access: \(v)")
            return
        }
        #expect(b.length == 0)
    }

    @Test("SET_IRQS whose header ends at the top of the address space: the data address would overflow")
    func irqSetAtTop() {
        let d = withDevice()
        let mem = FakeMemory()
        var h = Bytes()
        h.u32(24); h.u32(VFIOLayout.irqSetDataEventfd); h.u32(5); h.u32(0); h.u32(1)
        mem.place(h.b, at: UInt64.max - 19)
        let ev = d.decode(rec(.ioctl, [5, 0x3B6E, UInt64.max - 19], 0), memory: mem)
        guard case .irqBinding(let b) = ev.first?.payload else {
            Issue.record("no irq binding: \(ev)")
            return
        }
        #expect(b.count == 1 && b.eventfds.isEmpty)
    }

    @Test("a string without a NUL running into the end of the address space ends there")
    func stringAtTop() {
        let mem = FakeMemory()
        mem.place(Array(repeating: UInt8(ascii: "a"), count: 64), at: UInt64.max - 63)
        #expect(mem.string(1, UInt64.max - 63) == String(repeating: "a", count: 64))
    }

    @Test("/proc and sysfs text: numbers out of range parse as absent, names cannot climb out of sysfs, offsets stay in their bits")
    func procText() {
        let s = ProcStatus(text: "Name:\tx\nState:\tS (sleeping)\nTgid:\t99999999999999999999\nTracerPid:\t-\nKthread:\t1\n")
        #expect(s.tgid == nil && s.tracerPid == nil && s.state == "S" && s.kernelThread)
        #expect(ProcStatus(text: "TracerPid:\t4242\n").tracerPid == 4242)
        #expect(AttachedState.syspathName(fdinfo: "vfio-device-syspath: /sys/devices/pci0000:00/..\n") == nil)
        // A BAR whose sysfs range is wider than 2^40: an offset past that would land in the region index bits.
        let resource = "0x0000000000001000 0xffffffffffffffff 0x0\n"
        #expect(AttachedState.regionFileOffset(mapsOffset: 0x1000 + (2 << 40), resource: resource) == nil)
        #expect(AttachedState.regionFileOffset(mapsOffset: 0x2000, resource: resource) == 0x1000)
    }

    @Test("whole-file reads are bounded (an endless file is read to the limit, not forever)")
    func boundedRead() {
        #expect(ProcFS.read("/dev/zero", limit: 10_000)?.utf8.count == 10_000)
        #expect(ProcFS.comm(of: -1) == nil)
    }
}
