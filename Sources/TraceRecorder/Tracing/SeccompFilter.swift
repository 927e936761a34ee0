import CSyscallShim

/// The launch-mode seccomp-bpf program: SECCOMP_RET_TRACE only for the syscalls the decoder needs and,
/// for ioctl, only VFIO requests (type byte ';') and the KVM requests that matter (memslots, irqfd, VM
/// creation) — so a vCPU's KVM_RUN never stops — and, for mmap, not for anonymous mappings that cannot
/// replace one (no MAP_FIXED): malloc arenas and thread stacks never map a device. Everything else is
/// allowed without a stop.
package struct SeccompFilter {
    /// One classic-BPF instruction (struct sock_filter).
    package struct Instruction: Equatable {
        package var code: UInt16
        package var jt: UInt8
        package var jf: UInt8
        package var k: UInt32
    }

    package static let retAllow: UInt32 = 0x7FFF_0000
    package static let retTrace: UInt32 = 0x7FF0_0000
    /// mmap flags (asm-generic/mman-common.h; the same on x86_64 and aarch64).
    package static let mapFixed: UInt32 = 0x10
    package static let mapAnonymous: UInt32 = 0x20
    /// KVM requests that stop in launch mode.
    package static let kvmRequests: [UInt32] = [
        VFIOLayout.kvmCreateVM, VFIOLayout.kvmCreateVCPU, VFIOLayout.kvmSetUserMemoryRegion,
        VFIOLayout.kvmSetUserMemoryRegion2, VFIOLayout.kvmIrqfd,
    ]

    package let instructions: [Instruction]

    package init(table: SyscallTable = .native, syscalls: Set<Syscall> = SyscallDecoder.tracedSyscalls) {
        // A tiny assembler: jumps name their target label; offsets are resolved at the end.
        enum Target { case next, allow, trace, ioctl, mmap }
        var program: [(code: UInt16, k: UInt32, jt: Target, jf: Target)] = []
        let ldW: UInt16 = 0x20, jeq: UInt16 = 0x15, and: UInt16 = 0x54, ret: UInt16 = 0x06
        func op(_ code: UInt16, _ k: UInt32, _ jt: Target = .next, _ jf: Target = .next) { program.append((code, k, jt, jf)) }

        let ioctl = table.number(of: .ioctl).map { UInt32($0) } ?? UInt32.max
        op(ldW, 4)  // seccomp_data.arch
        op(jeq, table.auditArch, .next, .allow)  // another ABI: never trap
        op(ldW, 0)  // seccomp_data.nr
        // ioctl first: it is by far the most frequent call of a VMM (KVM_RUN), so it takes the shortest path.
        op(jeq, ioctl, .ioctl, .next)
        let mmap = syscalls.contains(.mmap) ? table.number(of: .mmap).map { UInt32($0) } : nil
        for n in syscalls.filter({ $0 != .ioctl }).compactMap({ table.number(of: $0) }).sorted() {
            op(jeq, UInt32(n), UInt32(n) == mmap ? .mmap : .trace, .next)
        }
        op(ret, Self.retAllow)
        let mmapBlock = program.count
        if mmap != nil {
            op(ldW, 40)  // args[3] (the flags), low 32 bits
            op(and, Self.mapAnonymous | Self.mapFixed)
            op(jeq, Self.mapAnonymous, .allow, .trace)
        }
        let ioctlBlock = program.count
        op(ldW, 24)  // args[1] (the request), low 32 bits
        op(jeq, VFIOLayout.kvmRun, .allow, .next)  // KVM_RUN: out at once
        op(and, 0xFF00)
        op(jeq, 0x3B00, .trace, .next)  // VFIO type byte ';'
        op(ldW, 24)
        for r in Self.kvmRequests { op(jeq, r, .trace, .next) }
        let allow = program.count
        op(ret, Self.retAllow)
        let trace = program.count
        op(ret, Self.retTrace)

        func offset(_ t: Target, from i: Int) -> UInt8 {
            switch t {
            case .next: return 0
            case .allow: return UInt8(allow - i - 1)
            case .trace: return UInt8(trace - i - 1)
            case .ioctl: return UInt8(ioctlBlock - i - 1)
            case .mmap: return UInt8(mmapBlock - i - 1)
            }
        }
        instructions = program.enumerated().map { i, p in
            Instruction(code: p.code, jt: p.code == jeq ? offset(p.jt, from: i) : 0, jf: p.code == jeq ? offset(p.jf, from: i) : 0, k: p.k)
        }
    }

    /// Runs the program on a seccomp_data (nr, arch, args) the way the kernel would; for tests.
    package func evaluate(nr: Int32, arch: UInt32, args: [UInt64]) -> UInt32 {
        var data = [UInt8](repeating: 0, count: 64)
        func put32(_ v: UInt32, _ at: Int) { for i in 0..<4 { data[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
        put32(UInt32(bitPattern: nr), 0)
        put32(arch, 4)
        for (i, a) in args.prefix(6).enumerated() {
            put32(UInt32(truncatingIfNeeded: a), 16 + 8 * i)
            put32(UInt32(truncatingIfNeeded: a >> 32), 20 + 8 * i)
        }
        var acc: UInt32 = 0
        var pc = 0
        while pc < instructions.count {
            let ins = instructions[pc]
            switch ins.code {
            case 0x20:
                acc =
                    UInt32(data[Int(ins.k)]) | UInt32(data[Int(ins.k) + 1]) << 8 | UInt32(data[Int(ins.k) + 2]) << 16 | UInt32(data[Int(ins.k) + 3])
                    << 24
            case 0x54: acc &= ins.k
            case 0x15:
                pc += Int(acc == ins.k ? ins.jt : ins.jf)
            case 0x06: return ins.k
            default: return 0
            }
            pc += 1
        }
        return 0
    }

    /// Calls `body` with the program as struct sock_filter memory.
    func withSockFilter<R>(_ body: (UnsafePointer<sock_filter>, UInt16) -> R) -> R {
        let filters = instructions.map { sock_filter(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        return filters.withUnsafeBufferPointer { body($0.baseAddress!, UInt16($0.count)) }
    }
}
