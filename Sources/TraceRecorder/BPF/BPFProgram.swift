import CBPFRecorder

#if canImport(Glibc)
    import Glibc
#endif

/// Why the eBPF backend cannot record here (not root, no BTF, a kernel without BPF, a failed attach); one line.
package struct BPFUnavailable: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// The loaded vfiotrace.bpf.c program (through the C loader over its skeleton): traced sets, attach, ring-buffer
/// poll and the kernel's drop counter. Destroying it detaches everything; so does the kernel when we die.
package final class BPFProgram {
    /// What the program filters in the kernel, fixed at load.
    package struct Settings {
        /// The syscalls recorded (numbers of the running architecture).
        package var syscalls: Set<Syscall> = SyscallDecoder.tracedSyscalls
        /// Record only the threads added with `addThread`.
        package var filterThreads = false
        /// Add a traced process's forked children to the traced set.
        package var followForks = true
        /// Ring-buffer size in bytes (a power of two).
        package var ringBytes: UInt32 = 8 << 20
        /// KVM's tracepoints of the traced processes (kvm_mmio, kvm_userspace_exit, kvm_unmap_hva_range,
        /// kvm_set_irq); needs a kernel with KVM.
        package var kvmEvents = false
        /// vfio-pci's interrupt handlers (irq_handler_entry).
        package var interruptEvents = false
        /// kvm_mmio outside the guest-physical ranges the traced processes registered as memslots: at most this
        /// many a second (the rest counted).
        package var mmioBudget: UInt32 = 1000
        /// The memslot iterator (`memslotSnapshot(pids:)`, attach mode): needs KVM's types in the kernel's BTF.
        package var memslotSnapshot = false
        /// That iterator alone, nothing on the tracepoints (the ptrace recorder's attach).
        package var snapshotOnly = false
        package init() {}
    }

    private let handle: OpaquePointer

    /// Loads the program; throws `BPFUnavailable` saying why not.
    package init(_ settings: Settings, table: SyscallTable = .native) throws(BPFUnavailable) {
        guard table.architecture == "x86_64" else {
            throw BPFUnavailable("the eBPF backend is built for x86_64 only (this is \(table.architecture))")
        }
        guard access("/sys/kernel/btf/vmlinux", R_OK) == 0 else {
            throw BPFUnavailable("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing), which the BPF program needs")
        }
        var c = vft_bpf_settings()
        withUnsafeMutableBytes(of: &c.traced_nrs) { words in
            for s in settings.syscalls {
                guard let n = table.number(of: s), n >= 0, n < Int(VFT_NR_WORDS) * 64 else { continue }
                let word = words.baseAddress!.advanced(by: (n / 64) * 8).assumingMemoryBound(to: UInt64.self)
                word.pointee |= 1 << UInt64(n % 64)
            }
        }
        c.filter_tids = settings.filterThreads ? 1 : 0
        c.follow_forks = settings.followForks ? 1 : 0
        c.ring_bytes = settings.ringBytes
        c.kvm_events = settings.kvmEvents ? 1 : 0
        c.irq_events = settings.interruptEvents ? 1 : 0
        c.mmio_budget = settings.mmioBudget
        c.memslot_snapshot = settings.memslotSnapshot ? 1 : 0
        c.snapshot_only = settings.snapshotOnly ? 1 : 0
        // Wake the poller at a quarter of the ring: records reach the recorder within its 100 ms poll, and a VMM
        // making thousands of recorded calls a second does not pay a wake-up of the recorder for each.
        c.wake_bytes = settings.ringBytes / 4
        c.pid_max =
            ProcFS.read("/proc/sys/kernel/pid_max", limit: 32).flatMap { UInt32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            ?? 4_194_304
        var out: OpaquePointer?
        var message = [CChar](repeating: 0, count: 512)
        let rc = vft_bpf_open_load(&c, &out, &message, message.count)
        guard rc == 0, let out else {
            var reason = Self.text(message)
            if rc == -EPERM && geteuid() != 0 { reason += " (loading BPF programs needs root or CAP_BPF with CAP_PERFMON)" }
            throw BPFUnavailable(reason)
        }
        handle = out
    }

    /// A NUL-terminated message buffer as text.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { vft_bpf_destroy(handle) }

    package func addProcess(_ pid: Int32) -> Int32 { vft_bpf_add_tgid(handle, UInt32(bitPattern: pid)) }
    package func addThread(_ tid: Int32) -> Int32 { vft_bpf_add_tid(handle, UInt32(bitPattern: tid)) }

    package func attach() throws(BPFUnavailable) {
        var message = [CChar](repeating: 0, count: 512)
        guard vft_bpf_attach(handle, &message, message.count) == 0 else { throw BPFUnavailable(Self.text(message)) }
    }

    /// Runs the memslot iterator once into `buffer`: the bytes written, or -errno.
    func runMemslotIterator(_ buffer: UnsafeMutableRawBufferPointer) -> Int32 {
        vft_bpf_memslot_snapshot(handle, buffer.baseAddress, buffer.count)
    }

    /// Records the kernel could not hand over (ring or pending map full) since the load.
    package var dropped: UInt64 { vft_bpf_dropped(handle) }

    /// kvm_mmio events the kernel left out (outside the watched ranges, over the budget) since the load.
    package var mmioSkipped: UInt64 { vft_bpf_mmio_skipped(handle) }

    /// Whether this kernel has KVM's tracepoints (KVM built in or its module loaded).
    package static var kernelHasKVM: Bool { access("/sys/module/kvm", F_OK) == 0 }

    /// Waits up to `timeoutMs` for records, or for `wakeFd` (e.g. a launched command's pidfd) to become readable, and
    /// passes each record (its raw bytes) to `body`; the number handled, or -errno (-EINTR when a signal came).
    package func poll(timeoutMs: Int32, wakeFd: Int32 = -1, _ body: (UnsafeRawBufferPointer) -> Void) -> Int32 {
        withoutActuallyEscaping(body) { body in
            var box = body
            return withUnsafeMutablePointer(to: &box) { ctx in
                vft_bpf_poll(
                    handle, timeoutMs, wakeFd,
                    { ctx, data, size in
                        let body = ctx!.assumingMemoryBound(to: ((UnsafeRawBufferPointer) -> Void).self).pointee
                        body(UnsafeRawBufferPointer(start: data, count: size))
                        return 0
                    }, ctx)
            }
        }
    }
}
