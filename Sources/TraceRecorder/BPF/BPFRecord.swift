import CBPFRecorder

/// One ring-buffer record of vfiotrace.bpf.c (struct vft_record and its captured bytes), parsed.
package enum BPFRecord {
    /// A traced syscall, with the memory the kernel read at its exit.
    case syscall(SyscallRecord, CapturedMemory)
    /// `tid` of process `pid` created thread or process `child` (of process `childPid`).
    case fork(pid: Int32, tid: Int32, child: Int32, childPid: Int32, isThread: Bool, time: UInt64)
    /// Process `pid` exec'd; `formerTid` is the thread that called execve.
    case exec(pid: Int32, formerTid: Int32, time: UInt64)
    /// The last thread of `pid` exited; `status` as a wait status gives it (128 + signal when killed).
    case exit(pid: Int32, tid: Int32, status: Int32, time: UInt64)
    /// One of KVM's or vfio-pci's kernel-side events (`--kvm-events`).
    case kernel(KernelEvent)

    static let headerSize = MemoryLayout<vft_record>.size

    /// Parses raw record bytes; nil when they are malformed (short, unknown kind, captures past the end).
    package init?(_ raw: UnsafeRawBufferPointer, table: SyscallTable = .native) {
        guard raw.count >= Self.headerSize else { return nil }
        let r = raw.loadUnaligned(as: vft_record.self)
        let pid = Int32(bitPattern: r.tgid), tid = Int32(bitPattern: r.tid)
        let args = [r.args.0, r.args.1, r.args.2, r.args.3, r.args.4, r.args.5]
        switch r.kind {
        case UInt32(VFT_SYSCALL.rawValue):
            let n0 = Int(r.mem_len.0), n1 = Int(r.mem_len.1)
            guard let syscall = table.syscall(for: Int(r.nr)), raw.count >= Self.headerSize + n0 + n1 else { return nil }
            let bytes = Array(raw[Self.headerSize..<(Self.headerSize + n0 + n1)])
            let memory = CapturedMemory(segments: [
                (r.mem_addr.0, Array(bytes[0..<n0])), (r.mem_addr.1, Array(bytes[n0..<(n0 + n1)])),
            ])
            self = .syscall(
                SyscallRecord(
                    pid: pid, tid: tid, syscall: syscall, number: Int(r.nr), args: args, result: r.result,
                    entryNs: r.entry_ns, exitNs: r.exit_ns),
                memory)
        case UInt32(VFT_FORK.rawValue):
            self = .fork(
                pid: pid, tid: tid, child: Int32(truncatingIfNeeded: args[0]), childPid: Int32(truncatingIfNeeded: args[1]),
                isThread: args[2] != 0, time: r.entry_ns)
        case UInt32(VFT_EXEC.rawValue):
            self = .exec(pid: pid, formerTid: Int32(truncatingIfNeeded: args[0]), time: r.entry_ns)
        case UInt32(VFT_EXIT.rawValue):
            // task->exit_code: exit status << 8, or the terminating signal in the low 7 bits.
            let code = Int32(truncatingIfNeeded: r.result)
            let status = code & 0x7F == 0 ? (code >> 8) & 0xFF : 128 + (code & 0x7F)
            self = .exit(pid: pid, tid: tid, status: status, time: r.entry_ns)
        case UInt32(VFT_KVM_MMIO.rawValue):
            guard args[0] == 1 || args[0] == 2 else { return nil }
            self = .kernel(
                KernelEvent(
                    pid: pid, tid: tid, time: r.entry_ns, endTime: r.exit_ns,
                    kind: .mmio(write: args[0] == 2, length: UInt32(truncatingIfNeeded: args[1]), gpa: args[2], value: args[4] == 0 ? args[3] : nil)))
        case UInt32(VFT_KVM_UNMAP.rawValue):
            self = .kernel(KernelEvent(pid: pid, tid: tid, time: r.entry_ns, endTime: r.exit_ns, kind: .unmapHostRange(start: args[0], end: args[1])))
        case UInt32(VFT_KVM_EXIT.rawValue):
            self = .kernel(
                KernelEvent(
                    pid: pid, tid: tid, time: r.entry_ns, endTime: r.exit_ns,
                    kind: .userspaceExit(reason: UInt32(truncatingIfNeeded: args[0]), errno: Int32(truncatingIfNeeded: args[1]))))
        case UInt32(VFT_KVM_SET_IRQ.rawValue):
            self = .kernel(
                KernelEvent(
                    pid: pid, tid: tid, time: r.entry_ns, endTime: r.exit_ns,
                    kind: .setIRQ(
                        gsi: UInt32(truncatingIfNeeded: args[0]), level: Int32(truncatingIfNeeded: args[1]),
                        source: Int32(truncatingIfNeeded: args[2]), byWorker: args[3] != 0)))
        case UInt32(VFT_KVM_MSI.rawValue):
            self = .kernel(
                KernelEvent(
                    pid: pid, tid: tid, time: r.entry_ns, endTime: r.exit_ns,
                    kind: .msi(
                        address: args[0], data: UInt32(truncatingIfNeeded: args[1]), gsi: args[2] != 0 ? UInt32(truncatingIfNeeded: args[3]) : nil)))
        case UInt32(VFT_IRQ_SIGNAL.rawValue):
            let n = Int(r.mem_len.0)
            guard raw.count >= Self.headerSize + n else { return nil }
            let name = String(decoding: raw[Self.headerSize..<(Self.headerSize + n)], as: UTF8.self)
            self = .kernel(
                KernelEvent(
                    pid: pid, tid: tid, time: r.entry_ns, endTime: r.exit_ns,
                    kind: .interruptHandler(irq: UInt32(truncatingIfNeeded: args[0]), name: name)))
        default:
            return nil
        }
    }
}
