import Testing

@testable import TraceRecorder

/// The launch-mode filter stops only on what the decoder needs; KVM_RUN and unrelated calls run free.
@Suite struct SeccompFilterTests {
    let filter = SeccompFilter(table: .x86_64)
    let arch = SyscallTable.x86_64.auditArch
    func verdict(_ s: Syscall, _ args: [UInt64] = []) -> UInt32 {
        filter.evaluate(nr: Int32(SyscallTable.x86_64.number(of: s)!), arch: arch, args: args)
    }

    @Test(
        "VFIO ioctls and the KVM memslot/irqfd/VM ioctls stop",
        arguments: [0x3B64, 0x3B6A, 0x3B6C, 0x3B6E, 0x3B75, 0x3B79, 0x3BFF, 0x4020_AE46, 0x40A0_AE49, 0x4020_AE76, 0xAE01] as [UInt64])
    func stops(request: UInt64) {
        #expect(verdict(.ioctl, [5, request, 0]) == SeccompFilter.retTrace)
    }

    @Test("KVM_RUN and other ioctls do not stop", arguments: [0xAE80, 0x5401, 0x541B, 0xC008_AE88, 0x3C00] as [UInt64])
    func allowed(request: UInt64) {
        #expect(verdict(.ioctl, [5, request, 0]) == SeccompFilter.retAllow)
    }

    @Test(
        "mmap stops for files and for anything that may replace a mapping; plain anonymous mmaps do not",
        arguments: [
            (0x01, UInt64(7), true),  // MAP_SHARED of an fd (a device BAR)
            (0x11, 7, true),  // MAP_SHARED|MAP_FIXED of an fd
            (0x22, UInt64(UInt32.max), false),  // MAP_PRIVATE|MAP_ANONYMOUS: malloc, thread stacks
            (0x4022, UInt64(UInt32.max), false),  // ... |MAP_NORESERVE
            (0x32, UInt64(UInt32.max), true),  // MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED: may replace a device mapping
            (0x10_0022, UInt64(UInt32.max), false),  // MAP_FIXED_NOREPLACE never replaces
        ] as [(UInt64, UInt64, Bool)])
    func mmapFlags(flags: UInt64, fd: UInt64, stops: Bool) {
        #expect(verdict(.mmap, [0, 0x10_0000, 3, flags, fd, 0]) == (stops ? SeccompFilter.retTrace : SeccompFilter.retAllow))
    }

    @Test("the decoder's syscalls stop, others do not; another architecture is never trapped")
    func syscalls() {
        for s in SyscallDecoder.tracedSyscalls where s != .ioctl {
            #expect(verdict(s) == SeccompFilter.retTrace, "\(s)")
        }
        #expect(filter.evaluate(nr: 39, arch: arch, args: []) == SeccompFilter.retAllow)  // getpid
        #expect(filter.evaluate(nr: 202, arch: arch, args: []) == SeccompFilter.retAllow)  // futex
        #expect(filter.evaluate(nr: 16, arch: 0x4000_0003, args: [5, 0x3B6C]) == SeccompFilter.retAllow)  // i386 audit arch
    }
}
