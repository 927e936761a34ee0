package import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// The tracer's state machine: pairs syscall entries with exits per thread, follows threads, forks
/// and execs, re-injects signals, and detaches cleanly. All kernel access goes through `PtraceBoundary`.
package final class Tracer {
    /// Attach (PTRACE_SYSCALL on every syscall) or launch (seccomp RET_TRACE stops only on filtered calls).
    package enum Mode: Sendable {
        case attach
        case launch
    }

    /// A syscall that entered and has not exited yet.
    package struct Pending {
        package var syscall: Syscall
        package var number: Int
        package var args: [UInt64]
        package var entryNs: UInt64
    }

    /// Per-thread state.
    package struct Thread {
        package var pid: Int32
        package var pending: Pending?
        /// Seen its initial stop (new threads start with an event stop).
        package var started = false
    }

    let boundary: any PtraceBoundary
    let decoder: SyscallDecoder
    let memory: any TraceeMemory
    let table: SyscallTable
    let mode: Mode
    /// Receives every decoded event, on the tracing thread; must not block for long.
    let emit: (TraceEvent) -> Void
    /// Attach mode: only these threads are traced (the others are never seized); nil = all. Launch mode: only
    /// these threads' syscalls are decoded. Grows when a named thread's execve gives it the process's tid.
    private(set) var threadFilter: Set<Int32>?

    package private(set) var threads: [Int32: Thread] = [:]
    /// Exit status of the launched child, once it exited.
    package private(set) var childStatus: Int32?
    package private(set) var launchedPid: Int32?
    package private(set) var syscallStops: UInt64 = 0
    /// Tasks detached at their first stop because the thread filter does not name them.
    package private(set) var released = 0

    package init(
        boundary: any PtraceBoundary, decoder: SyscallDecoder, memory: any TraceeMemory, table: SyscallTable = .native,
        mode: Mode, threadFilter: Set<Int32>? = nil, emit: @escaping (TraceEvent) -> Void
    ) {
        self.boundary = boundary
        self.decoder = decoder
        self.memory = memory
        self.table = table
        self.mode = mode
        self.threadFilter = threadFilter
        self.emit = emit
    }

    private var resumeMode: ResumeMode { mode == .attach ? .syscall : .cont }

    private func lifecycle(_ op: ProcessChange.Operation, pid: Int32, tid: Int32, target: Int32, status: Int32 = 0, command: String = "") {
        let t = boundary.now()
        emit(
            TraceEvent(time: t, pid: pid, tid: tid, payload: .process(ProcessChange(operation: op, target: target, status: status, command: command)))
        )
    }

    /// Attach mode: seize the threads of `pid` (only those of the thread filter, when there is one), adopt its
    /// open fds (with the device names /proc and sysfs gave) and its existing device mappings (each on its
    /// device fd). Returns the threads seized; throws when none could be, or when one that exists could not be.
    ///
    /// With a thread filter the threads are seized without following clones and forks: a thread nobody named
    /// must run at full speed, never stopping, so it is never traced at all.
    package func attach(
        pid: Int32, threads tids: [Int32], openFds: [(fd: Int32, target: String)], deviceNames: [Int32: String] = [:],
        mappings: [(fd: Int32, mapping: AttachedState.Mapping)] = []
    ) throws(RecorderError) -> Int {
        let wanted = threadFilter.map { named in tids.filter(named.contains) } ?? tids
        let options = threadFilter == nil ? PtraceOptions.follow : PtraceOptions.traceSysGood | PtraceOptions.traceExec
        var seized = 0
        for tid in wanted {
            let err = boundary.seize(tid, options: options)
            if err == ESRCH { continue }  // the thread exited meanwhile
            guard err == 0 else {
                throw RecorderError("cannot attach to thread \(tid) of process \(pid): \(errnoName(err))", pid: pid, tid: tid, errno: err)
            }
            threads[tid] = Thread(pid: pid)
            boundary.interrupt(tid)
            seized += 1
        }
        guard seized > 0 else {
            throw RecorderError("cannot attach to process \(pid): \(errnoName(ESRCH))", pid: pid, tid: pid, errno: ESRCH)
        }
        lifecycle(.attach, pid: pid, tid: pid, target: pid, status: Int32(seized))
        let t = boundary.now()
        // Found open in /proc: shown as opens that returned their fd.
        for change in decoder.adoptOpenFds(pid: pid, fds: openFds, deviceNames: deviceNames) {
            emit(TraceEvent(time: t, pid: pid, tid: pid, result: Int64(change.fd), payload: .fd(change)))
        }
        for (fd, m) in mappings {
            if let change = decoder.adoptMapping(pid: pid, fd: fd, user: m.user, fileOffset: m.fileOffset, prot: m.prot) {
                emit(TraceEvent(time: t, pid: pid, tid: pid, result: Int64(bitPattern: m.user.lowerBound), payload: .mapping(change)))
            }
        }
        return seized
    }

    /// Launch mode: the child, seized with its options, stopped at its exec; let it run.
    package func adoptLaunched(pid: Int32, command: [String]) {
        launchedPid = pid
        threads[pid] = Thread(pid: pid, started: true)
        lifecycle(.spawn, pid: pid, tid: pid, target: pid, command: command.joined(separator: " "))
        boundary.resume(pid, resumeMode, signal: 0)
    }

    package var isEmpty: Bool { threads.isEmpty }

    /// Handles one stop and restarts the tracee. This is the whole state machine.
    package func handle(_ stop: TraceeStop) {
        switch stop {
        case .syscall(let tid):
            syscallStops += 1
            guard var th = threads[tid] else { return boundary.resume(tid, resumeMode, signal: 0) }
            switch boundary.syscallInfo(tid) {
            case .entry(let nr, let args):
                th.pending = pendingIfTraced(tid: tid, number: nr, args: args)
                threads[tid] = th
                boundary.resume(tid, .syscall, signal: 0)
            case .exit(let result):
                if let p = th.pending { complete(tid: tid, pid: th.pid, p, result: result) }
                th.pending = nil
                threads[tid] = th
                boundary.resume(tid, resumeMode, signal: 0)
            case .seccomp(let nr, let args):
                // Some kernels report the seccomp op on a syscall stop; treat it as an entry.
                th.pending = pendingIfTraced(tid: tid, number: nr, args: args)
                threads[tid] = th
                boundary.resume(tid, .syscall, signal: 0)
            case .none:
                boundary.resume(tid, resumeMode, signal: 0)
            }
        case .seccomp(let tid):
            syscallStops += 1
            guard var th = threads[tid] else { return boundary.resume(tid, .cont, signal: 0) }
            if case .seccomp(let nr, let args) = boundary.syscallInfo(tid) {
                th.pending = pendingIfTraced(tid: tid, number: nr, args: args)
                threads[tid] = th
            }
            // PTRACE_SYSCALL from a seccomp stop goes straight to the syscall-exit stop.
            boundary.resume(tid, .syscall, signal: 0)
        case .newTask(let tid, let child, let isThread):
            let pid = threads[tid]?.pid ?? tid
            let childPid = isThread ? pid : child
            // A task nobody named is let go at its first stop (see `.eventStop`).
            if threads[child] == nil && isNamed(child) { threads[child] = Thread(pid: childPid) }
            if isThread {
                lifecycle(.threadStart, pid: pid, tid: tid, target: child)
            } else {
                decoder.processForked(parent: pid, child: child)
                lifecycle(.fork, pid: pid, tid: tid, target: child)
            }
            boundary.resume(tid, resumeMode, signal: 0)
        case .exec(let tid, let formerTid):
            let pid = threads[tid]?.pid ?? tid
            if formerTid != tid {
                threads[formerTid] = nil
                // The named thread that called execve goes on under the process's tid.
                if threadFilter?.contains(formerTid) == true { threadFilter?.insert(tid) }
            }
            // execve kills the other threads of the group; their exit stops may not all arrive.
            threads = threads.filter { $0.value.pid != pid || $0.key == tid }
            threads[tid] = Thread(pid: pid, started: true)
            decoder.processExec(pid: pid)
            let cmdline = ProcFS.read("/proc/\(tid)/cmdline", limit: 4096).map { $0.split(separator: "\0").joined(separator: " ") } ?? ""
            lifecycle(.exec, pid: pid, tid: tid, target: tid, command: cmdline)
            boundary.resume(tid, resumeMode, signal: 0)
        case .eventStop(let tid, _):
            // Initial stop of a seized or new thread, our PTRACE_INTERRUPT, or a group-stop: keep it running.
            if threads[tid] == nil && !isNamed(tid) { return release(tid, signal: 0) }
            if threads[tid] == nil { threads[tid] = Thread(pid: boundary.threadGroup(of: tid)) }
            threads[tid]?.started = true
            boundary.resume(tid, resumeMode, signal: 0)
        case .signal(let tid, let sig):
            // Re-inject: the tracee must see every signal it would have seen untraced.
            if threads[tid] == nil && !isNamed(tid) { return release(tid, signal: sig) }
            if threads[tid] == nil { threads[tid] = Thread(pid: boundary.threadGroup(of: tid)) }
            boundary.resume(tid, resumeMode, signal: sig)
        case .exited(let tid, let status):
            exit(tid: tid, status: status)
            if tid == launchedPid { childStatus = status }
        case .killed(let tid, let sig):
            exit(tid: tid, status: 128 + sig)
            if tid == launchedPid { childStatus = 128 + sig }
        }
    }

    /// Whether the thread filter (if any) names `tid`.
    /// Launch mode never lets a task go: its seccomp filter's stops need a tracer.
    private func isNamed(_ tid: Int32) -> Bool { mode == .launch || (threadFilter?.contains(tid) ?? true) }

    /// Detaches a task the tracer was handed but nobody named (a clone followed by a kernel that followed it anyway),
    /// handing over the signal it stopped for.
    private func release(_ tid: Int32, signal: Int32) {
        _ = boundary.detach(tid, signal: signal)
        released += 1
    }

    private func exit(tid: Int32, status: Int32) {
        guard let th = threads.removeValue(forKey: tid) else { return }
        if tid == th.pid {
            lifecycle(.exit, pid: th.pid, tid: tid, target: tid, status: status)
            decoder.processExited(pid: th.pid)
        }
    }

    private func pendingIfTraced(tid: Int32, number: Int, args: [UInt64]) -> Pending? {
        guard let s = table.syscall(for: number), SyscallDecoder.tracedSyscalls.contains(s) else { return nil }
        if let filter = threadFilter, !filter.contains(tid) { return nil }
        return Pending(syscall: s, number: number, args: args, entryNs: boundary.now())
    }

    private func complete(tid: Int32, pid: Int32, _ p: Pending, result: Int64) {
        let record = SyscallRecord(
            pid: pid, tid: tid, syscall: p.syscall, number: p.number, args: p.args, result: result,
            entryNs: p.entryNs, exitNs: boundary.now())
        for e in decoder.decode(record, memory: memory) { emit(e) }
    }

    /// Stops tracing every thread, leaving the processes running: interrupt, wait for each stop, detach.
    package func detachAll() {
        let tids = Array(threads.keys)
        for tid in tids { boundary.interrupt(tid) }
        var remaining = Set(tids)
        var rounds = 0
        while !remaining.isEmpty && rounds < tids.count * 8 + 16 {
            rounds += 1
            errno = 0
            guard let stop = boundary.wait() else {
                // A late stop signal interrupts waitpid; only "no children left" ends the wait.
                if errno == EINTR { continue }
                break
            }
            switch stop {
            case .exited(let tid, _), .killed(let tid, _):
                remaining.remove(tid)
                threads[tid] = nil
            case .signal(let tid, let sig):
                // Hand the pending signal over with the detach so it is not lost.
                _ = boundary.detach(tid, signal: sig)
                remaining.remove(tid)
            case .syscall(let tid), .seccomp(let tid), .eventStop(let tid, _), .newTask(let tid, _, _), .exec(let tid, _):
                _ = boundary.detach(tid, signal: 0)
                remaining.remove(tid)
            }
        }
        for tid in remaining { _ = boundary.detach(tid, signal: 0) }
        for pid in Set(threads.values.map(\.pid)) { lifecycle(.detach, pid: pid, tid: pid, target: pid) }
        threads.removeAll()
    }
}

/// A recorder failure with the pid it concerns; prints as one line.
package struct RecorderError: Error, CustomStringConvertible {
    package var message: String
    package var pid: Int32?
    /// The thread a ptrace request failed on, and its errno.
    package var tid: Int32?
    package var errno: Int32?
    package init(_ message: String, pid: Int32? = nil, tid: Int32? = nil, errno: Int32? = nil) {
        self.message = message
        self.pid = pid
        self.tid = tid
        self.errno = errno
    }
    package var description: String { message }
}

func errnoName(_ e: Int32) -> String {
    switch e {
    case 1: "EPERM (ptrace not permitted)"
    case 3: "ESRCH (no such process)"
    default: ErrnoNames.name(e)
    }
}
