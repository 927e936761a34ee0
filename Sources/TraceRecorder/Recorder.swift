import CSyscallShim
import Foundation
public import TraceFormat

/// What to record and how.
public struct RecordOptions: Sendable {
    public var output: String
    /// Attach mode: the processes to seize.
    public var pids: [Int32] = []
    /// Launch mode: the command to run under the recorder.
    public var command: [String] = []
    /// Stop (and detach) after this long.
    public var durationNs: UInt64?
    /// Only record syscalls of these threads (attach mode: limits cost to the threads that matter).
    public var threads: Set<Int32>?
    /// Print a live status line (events, bytes, rate, lost) through this callback.
    public var status: (@Sendable (String) -> Void)?
    /// Called once every tracee is seized or launched (e.g. to tell a waiting workload to start).
    public var onReady: (@Sendable () -> Void)?
    /// How to record: ptrace (and seccomp in launch mode), the eBPF program, or eBPF where it loads.
    public var backend: RecordBackend = .ptrace
    /// eBPF backend: the ring buffer's size in bytes (a power of two, at least a page); nil = 8 MiB.
    public var bpfRingBytes: UInt32?
    /// eBPF backend: also record the kernel's own events in the same clock — KVM's (trapped guest MMIO, MMU
    /// notifier unmaps, exits to the VMM, GSIs) and vfio-pci's interrupt handlers (docs/BPF.md).
    public var bpfKernelEvents = false
    /// Told once which backend records and, when `.auto` fell back to ptrace, why.
    public var notice: (@Sendable (String) -> Void)?

    public init(output: String) { self.output = output }
}

/// What a recording produced. Every count is of what is in the file, not of what was meant to be.
public struct RecordSummary: Sendable {
    /// Events in the file's complete chunks (all of them when `writeFailure` is nil).
    public var events: UInt64
    /// Events dropped because the queue was full, and how many of those a `LostEvents` marker in the file accounts for.
    public var lost: UInt64
    public var lostMarked: UInt64
    /// Events the format cannot hold, left out while the recording went on.
    public var rejected: UInt64
    /// Bytes of the file that read back (header, complete chunks, and the index when it was written).
    public var bytes: UInt64
    public var syscallStops: UInt64
    /// Launch mode: the command's exit status (128 + signal when killed).
    public var childStatus: Int32?
    /// Set when recording stopped early because the file could not be written (disk full).
    public var writeFailure: TraceError?
    /// Attach mode: the processes still running (and no longer traced by us) after the recorder let go of them,
    /// per /proc; the others exited during the recording.
    public var leftRunning: [Int32] = []
    public var exited: [Int32] = []
    /// The backend that recorded.
    public var backend: RecordBackend = .ptrace
    /// eBPF backend: records the kernel handed over, and those its ring could not hold (each run of them a
    /// `lost` event in the trace, counted in `kernelDropped`).
    public var kernelRecords: UInt64 = 0
    public var kernelDropped: UInt64 = 0
}

/// Where the recorder gets its syscalls from.
public enum RecordBackend: String, Sendable, CaseIterable {
    /// ptrace stops (attach: every syscall; launch: the seccomp filter's).
    case ptrace
    /// The eBPF program: filtered and captured in the kernel, the VMM never stops.
    case bpf
    /// bpf where it loads, else ptrace.
    case auto
}

/// An error that stops a recording before it starts; prints as one line.
public struct RecordingFailed: Error, CustomStringConvertible {
    /// What failed, which decides the exit status.
    public enum Code: Sendable, Equatable {
        /// Options that do not fit together.
        case usage
        /// The process cannot be recorded (no such process, already traced, not permitted, unknown threads) or
        /// the command cannot be started.
        case target
        /// The trace file cannot be created or its header written.
        case output
    }

    public var code: Code
    public var description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// Set by the signal handlers (SIGINT, SIGTERM, the --duration timer); read by the tracing loop.
nonisolated(unsafe) var stopRequested: Int32 = 0

/// Records a running or launched VMM into a trace file (see `RecordOptions`).
public enum Recorder {
    public static func record(_ options: RecordOptions) throws -> RecordSummary {
        guard options.pids.isEmpty != options.command.isEmpty else {
            throw RecordingFailed(.usage, "give either -p PID (attach) or -- COMMAND (launch), not both")
        }
        let mode: Tracer.Mode = options.command.isEmpty ? .attach : .launch
        var pids: [Int32] = []
        for pid in options.pids where !pids.contains(pid) { pids.append(pid) }
        if mode == .launch && options.threads != nil {
            throw RecordingFailed(.usage, "--threads needs -p: the thread ids of a command not started yet are unknown")
        }
        if options.backend != .ptrace, let summary = try recordWithBPFIfAvailable(options, pids: pids) { return summary }
        // Everything /proc can tell before anything is written or any thread is touched.
        if mode == .attach, let obstacle = AttachObstacle.find(pids: pids, threads: options.threads) {
            throw RecordingFailed(.target, obstacle.description)
        }
        let header = TraceHeader.forThisHost(source: "record", command: options.command, pids: pids)
        let writer: TraceWriter
        do { writer = try TraceWriter(path: options.output, header: header) } catch {
            throw RecordingFailed(
                .output,
                "cannot write the trace file: \(error.description); nothing was recorded"
                    + (mode == .attach ? " and the process was not touched" : " and the command was not started"))
        }
        // Attach mode, where BPF iterators load: the memslots made before the attach, from KVM's tables (docs/BPF.md).
        // Loaded now, before any thread is seized; walked once all are.
        var memslotIterator: BPFProgram?
        if mode == .attach && BPFProgram.kernelHasKVM {
            do { memslotIterator = try BPFProgram.memslotIterator(pids: pids) } catch {
                options.notice?("memslots made before the attach will be unknown: the memslot iterator does not load here (\(error))")
            }
        }
        let queue = EventQueue(writer: writer, status: options.status)
        let boundary = LinuxPtrace()
        let tracer = Tracer(
            boundary: boundary, decoder: SyscallDecoder(), memory: ProcessVMMemory(), mode: mode,
            threadFilter: options.threads
        ) { queue.push($0) }
        stopRequested = 0
        vft_install_stop_handlers(&stopRequested)
        defer { vft_remove_stop_handlers() }
        queue.start()

        do {
            switch mode {
            case .attach:
                for pid in pids {
                    let fds = ProcFS.openFds(of: pid)
                    let (names, mappings) = AttachedState.readBack(pid: pid, fds: fds)
                    do {
                        _ = try tracer.attach(
                            pid: pid, threads: ProcFS.threads(of: pid), openFds: fds, deviceNames: names, mappings: mappings)
                    } catch {
                        // Lost a race with /proc's answer (the process exited, another tracer came first): say which.
                        guard let err = error.errno else { throw RecordingFailed(.target, error.description) }
                        throw RecordingFailed(.target, AttachObstacle.seizeRefused(pid: pid, tid: error.tid ?? pid, errno: err).description)
                    }
                }
                if let iterator = memslotIterator {
                    // Stamped before the walk: a memslot call completing later is recorded, and applies after it.
                    let t = boundary.now()
                    switch iterator.memslotSnapshot(pids: Set(pids)) {
                    case .success(let snapshot): for pid in pids { for e in snapshot.events(pid: pid, time: t) { queue.push(e) } }
                    case .failure(let why): options.notice?("memslots made before the attach are unknown: \(why)")
                    }
                    memslotIterator = nil
                }
            case .launch:
                let pid = try spawn(options.command, boundary: boundary)
                tracer.adoptLaunched(pid: pid, command: options.command)
            }
        } catch {
            tracer.detachAll()
            queue.finish()
            try? writer.close()
            // The file would hold a header and maybe an attach record of a recording that never was.
            var st = stat()
            if stat(options.output, &st) == 0 && st.st_mode & S_IFMT == S_IFREG { unlink(options.output) }
            if let failed = error as? RecordingFailed { throw failed }
            throw RecordingFailed(.target, "\(error)")
        }
        options.onReady?()
        if let d = options.durationNs {
            var timer = itimerval(it_interval: timeval(), it_value: timeval(tv_sec: Int(d / 1_000_000_000), tv_usec: Int(d % 1_000_000_000 / 1000)))
            setitimer(Int32(ITIMER_REAL.rawValue), &timer, nil)
        }

        // Attach mode ends on a stop request, a write failure or when the tracees are gone, and detaches.
        // Launch mode never detaches: the command's seccomp filter cannot be removed, and without a tracer
        // every filtered syscall would fail with ENOSYS. So it records until the command exits; a stop
        // signal is passed on to the command, and after --duration or a write failure the remaining
        // stops are served without recording.
        var failure: TraceError?
        while !tracer.isEmpty {
            if stopRequested != 0 {
                let sig = stopRequested
                stopRequested = 0
                if mode == .attach { break }
                if sig == SIGALRM {
                    queue.stopRecording()
                } else if let pid = tracer.launchedPid, tracer.childStatus == nil {
                    kill(pid, sig)
                }
            }
            if failure == nil, let f = queue.writeFailure {
                failure = f
                if mode == .attach { break }
                options.status?("stopped recording: \(f); serving the command's syscalls until it exits")
            }
            guard let stop = boundary.wait() else {
                if errno == ECHILD { break }
                continue  // EINTR: check the stop flag
            }
            tracer.handle(stop)
        }
        var timer = itimerval()
        setitimer(Int32(ITIMER_REAL.rawValue), &timer, nil)
        if !tracer.isEmpty { tracer.detachAll() }
        queue.finish()
        failure = failure ?? queue.writeFailure
        var closeError: TraceError?
        do { try writer.close() } catch { closeError = error }
        var summary = RecordSummary(
            events: writer.eventsWritten, lost: queue.dropped, lostMarked: queue.lostMarked(sealedEvents: writer.eventsWritten),
            rejected: queue.rejected, bytes: writer.bytesWritten, syscallStops: tracer.syscallStops,
            childStatus: tracer.childStatus, writeFailure: failure ?? closeError)
        if mode == .attach {
            // Ask /proc, not the tracer, whether each process runs on untraced by us.
            let me = getpid()
            for pid in pids {
                let alive = ProcFS.status(pid: pid).map { $0.state != "Z" && $0.state != "X" && $0.tracerPid != me } ?? false
                if alive { summary.leftRunning.append(pid) } else { summary.exited.append(pid) }
            }
        }
        return summary
    }

    /// Forks the command under the seccomp filter, seizes it before its exec and waits for the exec stop.
    /// Seized (not PTRACE_TRACEME) so its threads and children can be interrupted like attached ones.
    static func spawn(_ command: [String], boundary: any PtraceBoundary) throws -> Int32 {
        let filter = SeccompFilter()
        var cargs = command.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        let pid = filter.withSockFilter { prog, count in
            cargs.withUnsafeBufferPointer { vft_spawn_traced($0.baseAddress!, prog, count) }
        }
        guard pid > 0 else { throw RecordingFailed(.target, "cannot fork: \(String(cString: strerror(errno)))") }
        var status: Int32 = 0
        // The child stops itself (SIGSTOP) once its filter is in place, or exits if it could not set it.
        guard waitpid(pid, &status, WUNTRACED) == pid else { throw RecordingFailed(.target, "lost the launched process \(pid)") }
        if vft_wifexited(status) != 0 {
            throw RecordingFailed(.target, "the seccomp filter could not be installed (status \(vft_wexitstatus(status)))")
        }
        let err = boundary.seize(pid, options: PtraceOptions.follow | PtraceOptions.traceSeccomp | PtraceOptions.exitKill)
        guard err == 0 else {
            kill(pid, SIGKILL)
            throw RecordingFailed(.target, "cannot trace the launched process: \(errnoName(err))")
        }
        kill(pid, SIGCONT)
        while true {
            guard waitpid(pid, &status, Int32(bitPattern: 0x4000_0000)) == pid else {
                throw RecordingFailed(.target, "lost the launched process \(pid)")
            }
            if vft_wifexited(status) != 0 || vft_wifsignaled(status) != 0 {
                let code = vft_wifexited(status) != 0 ? vft_wexitstatus(status) : 128 + vft_wtermsig(status)
                throw RecordingFailed(
                    .target,
                    code == 127
                        ? "cannot run '\(command[0])': not found or not executable"
                        : "'\(command[0])' could not be started under the recorder (status \(code))")
            }
            let event = vft_ptrace_event(status), sig = vft_wstopsig(status)
            if event == 4 { return pid }  // PTRACE_EVENT_EXEC: the command is loaded, nothing of it ran yet.
            // The stops of the SIGSTOP/SIGCONT hand-over: let SIGCONT through, swallow the rest.
            boundary.resume(pid, .cont, signal: event == 0 && sig == SIGCONT ? sig : 0)
        }
    }
}
