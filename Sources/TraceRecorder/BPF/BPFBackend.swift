package import TraceFormat

/// Turns the eBPF program's records into the events the ptrace tracer emits for the same activity: syscalls through
/// the same `SyscallDecoder` (reading the memory the kernel captured instead of the live process), and the same
/// lifecycle events (attach, thread start, fork, exec, exit, detach). The kernel's drop counter becomes `lost` events.
package final class BPFBackend {
    let decoder: SyscallDecoder
    let emit: (TraceEvent) -> Void
    let clock: () -> UInt64
    /// Processes recorded and not known to have exited.
    package private(set) var processes: Set<Int32> = []
    package private(set) var records: UInt64 = 0
    /// Records that did not parse (a program/loader mismatch; never expected).
    package private(set) var malformed: UInt64 = 0
    /// Kernel drops already turned into `lost` events, and since when the next ones count.
    package private(set) var droppedReported: UInt64 = 0
    private var dropsSince: UInt64
    /// kvm_mmio events the kernel left out already reported, and since when the next ones count.
    package private(set) var skippedReported: UInt64 = 0
    private var skippedSince: UInt64
    /// Launch mode: the command's own exec, which the ptrace recorder consumes before it starts recording.
    private var launchExec: Int32?

    package init(decoder: SyscallDecoder, clock: @escaping () -> UInt64 = MonotonicClock.now, emit: @escaping (TraceEvent) -> Void) {
        self.decoder = decoder
        self.emit = emit
        self.clock = clock
        self.dropsSince = clock()
        self.skippedSince = dropsSince
    }

    private func lifecycle(
        _ op: ProcessChange.Operation, time: UInt64, pid: Int32, tid: Int32, target: Int32, status: Int32 = 0, command: String = ""
    ) {
        emit(
            TraceEvent(
                time: time, pid: pid, tid: tid, payload: .process(ProcessChange(operation: op, target: target, status: status, command: command))))
    }

    /// Attach mode, once the program is attached: what the ptrace tracer records when it seizes `pid` (`threads` is
    /// the number of threads recorded): the attach, the open fds and device mappings found in /proc; then, from the
    /// memslot iterator, the memslots its VMs had (flagged `existingAtAttach`) and a `kvm.memslot_snapshot` marker
    /// saying the snapshot was taken. All at `time` (default: now), which must be no later than the snapshot was
    /// taken: a memslot call completing after it is recorded after it.
    package func attach(
        pid: Int32, threads: Int, openFds: [(fd: Int32, target: String)], deviceNames: [Int32: String] = [:],
        mappings: [(fd: Int32, mapping: AttachedState.Mapping)] = [], memslots: MemslotSnapshot? = nil, time: UInt64? = nil
    ) {
        processes.insert(pid)
        let t = time ?? clock()
        lifecycle(.attach, time: t, pid: pid, tid: pid, target: pid, status: Int32(threads))
        for change in decoder.adoptOpenFds(pid: pid, fds: openFds, deviceNames: deviceNames) {
            emit(TraceEvent(time: t, pid: pid, tid: pid, result: Int64(change.fd), payload: .fd(change)))
        }
        for (fd, m) in mappings {
            if let change = decoder.adoptMapping(pid: pid, fd: fd, user: m.user, fileOffset: m.fileOffset, prot: m.prot) {
                emit(TraceEvent(time: t, pid: pid, tid: pid, result: Int64(bitPattern: m.user.lowerBound), payload: .mapping(change)))
            }
        }
        for e in memslots?.events(pid: pid, time: t) ?? [] { emit(e) }
    }

    /// Launch mode: the command was started (gated before its exec) and is recorded from its first instruction.
    package func adoptLaunched(pid: Int32, command: [String]) {
        processes.insert(pid)
        launchExec = pid
        lifecycle(.spawn, time: clock(), pid: pid, tid: pid, target: pid, command: command.joined(separator: " "))
    }

    /// Handles one raw ring-buffer record.
    package func handle(_ raw: UnsafeRawBufferPointer) {
        records += 1
        guard let record = BPFRecord(raw) else {
            malformed += 1
            return
        }
        handle(record)
    }

    package func handle(_ record: BPFRecord) {
        switch record {
        case .syscall(let r, let memory):
            for e in decoder.decode(r, memory: memory) { emit(e) }
        case .fork(let pid, let tid, let child, let childPid, let isThread, let time):
            if isThread {
                lifecycle(.threadStart, time: time, pid: pid, tid: tid, target: child)
            } else {
                processes.insert(childPid)
                decoder.processForked(parent: pid, child: childPid)
                lifecycle(.fork, time: time, pid: pid, tid: tid, target: childPid)
            }
        case .exec(let pid, _, let time):
            decoder.processExec(pid: pid)
            if pid == launchExec {
                launchExec = nil
                return
            }
            let cmdline = ProcFS.read("/proc/\(pid)/cmdline", limit: 4096).map { $0.split(separator: "\0").joined(separator: " ") } ?? ""
            lifecycle(.exec, time: time, pid: pid, tid: pid, target: pid, command: cmdline)
        case .exit(let pid, _, let status, let time):
            guard processes.remove(pid) != nil else { return }
            lifecycle(.exit, time: time, pid: pid, tid: pid, target: pid, status: status)
            decoder.processExited(pid: pid)
        case .kernel(let k):
            if let e = k.traceEvent { emit(e) }
        }
    }

    /// Records a `kvm.mmio_skipped` marker for the MMIO exits the kernel left out (outside the watched ranges, over
    /// the budget; `skipped`, its running total) since the last call: not lost to a full ring, left out by design.
    package func noteSkippedMMIO(_ skipped: UInt64) {
        let now = clock()
        defer { skippedSince = now }
        guard skipped > skippedReported else { return }
        let count = skipped - skippedReported
        skippedReported = skipped
        emit(
            TraceEvent(
                time: skippedSince, endTime: now, pid: 0, tid: 0,
                payload: .marker(Marker(source: "kvm", name: "kvm.mmio_skipped", fields: [.init("count", "\(count)")]))))
    }

    /// Records a `lost` event for the drops the kernel counted (`dropped`, its running total) since the last call.
    package func noteDrops(_ dropped: UInt64) {
        let now = clock()
        guard dropped > droppedReported else {
            dropsSince = now
            return
        }
        let count = dropped - droppedReported
        droppedReported = dropped
        emit(TraceEvent(time: dropsSince, endTime: now, pid: 0, tid: 0, payload: .lost(LostEvents(count: count, fromNs: dropsSince, toNs: now))))
        dropsSince = now
    }

    /// A process gone without its exit record (the ring was full then): stop waiting for it.
    package func forget(_ pid: Int32) { processes.remove(pid) }

    /// The recording ends while processes run on: a detach for each, as the ptrace tracer records.
    package func detachAll() {
        let t = clock()
        for pid in processes.sorted() { lifecycle(.detach, time: t, pid: pid, tid: pid, target: pid) }
        processes.removeAll()
    }
}
