import CSyscallShim

/// The launch-mode seccomp-bpf program: SECCOMP_RET_TRACE only for the syscalls the decoder needs and,
/// for ioctl, only VFIO requests (type byte ';') and the KVM requests that matter (memslots, irqfd, VM
/// creation) — so a vCPU's KVM_RUN never stops. Everything else is allowed without a stop.
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
    /// KVM requests that stop in launch mode.
    package static let kvmRequests: [UInt32] = [VFIOLayout.kvmCreateVM, VFIOLayout.kvmCreateVCPU, VFIOLayout.kvmSetUserMemoryRegion,
                                                VFIOLayout.kvmSetUserMemoryRegion2, VFIOLayout.kvmIrqfd]

    package let instructions: [Instruction]

    package init(table: SyscallTable = .native, syscalls: Set<Syscall> = SyscallDecoder.tracedSyscalls) {
        let ldW: UInt16 = 0x20, jeq: UInt16 = 0x15, and: UInt16 = 0x54, ret: UInt16 = 0x06
        let numbers = syscalls.filter { $0 != .ioctl }.compactMap { table.number(of: $0) }.sorted()
        let ioctl = table.number(of: .ioctl) ?? -1
        // Layout: [0] ld arch, [1] jeq arch, [2] ld nr, [3..] jeq per syscall, jeq ioctl, ioctl block, ALLOW, TRACE.
        var code: [Instruction] = []
        let ioctlBlock = 4 + Self.kvmRequests.count  // ld, and, jeq vfio, ld, jeq × kvm, then falls to ALLOW
        let afterNumbers = 3 + numbers.count + 1
        let allowIndex = afterNumbers + ioctlBlock
        let traceIndex = allowIndex + 1
        func to(_ target: Int, from index: Int) -> UInt8 { UInt8(target - index - 1) }
        code.append(Instruction(code: ldW, jt: 0, jf: 0, k: 4))  // seccomp_data.arch
        code.append(Instruction(code: jeq, jt: 0, jf: to(allowIndex, from: 1), k: table.auditArch))
        code.append(Instruction(code: ldW, jt: 0, jf: 0, k: 0))  // seccomp_data.nr
        for n in numbers {
            code.append(Instruction(code: jeq, jt: to(traceIndex, from: code.count), jf: 0, k: UInt32(n)))
        }
        code.append(Instruction(code: jeq, jt: 0, jf: to(allowIndex, from: code.count), k: UInt32(bitPattern: Int32(ioctl))))
        // args[1] (the request) low 32 bits: offset 16 + 8.
        code.append(Instruction(code: ldW, jt: 0, jf: 0, k: 24))
        code.append(Instruction(code: and, jt: 0, jf: 0, k: 0xFF00))
        code.append(Instruction(code: jeq, jt: to(traceIndex, from: code.count), jf: 0, k: 0x3B00))
        code.append(Instruction(code: ldW, jt: 0, jf: 0, k: 24))
        for r in Self.kvmRequests {
            code.append(Instruction(code: jeq, jt: to(traceIndex, from: code.count), jf: 0, k: r))
        }
        precondition(code.count == allowIndex)
        code.append(Instruction(code: ret, jt: 0, jf: 0, k: Self.retAllow))
        code.append(Instruction(code: ret, jt: 0, jf: 0, k: Self.retTrace))
        instructions = code
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
            case 0x20: acc = UInt32(data[Int(ins.k)]) | UInt32(data[Int(ins.k) + 1]) << 8 | UInt32(data[Int(ins.k) + 2]) << 16 | UInt32(data[Int(ins.k) + 3]) << 24
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
