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

    public init(output: String) { self.output = output }
}

/// What a recording produced.
public struct RecordSummary: Sendable {
    public var events: UInt64
    public var lost: UInt64
    public var bytes: UInt64
    public var syscallStops: UInt64
    /// Launch mode: the command's exit status (128 + signal when killed).
    public var childStatus: Int32?
    /// Set when recording stopped early because the file could not be written (disk full).
    public var writeFailure: TraceError?
}

/// An error that stops a recording before it starts; prints as one line.
public struct RecordingFailed: Error, CustomStringConvertible {
    public var description: String
}

/// Set by the signal handlers (SIGINT, SIGTERM, the --duration timer); read by the tracing loop.
nonisolated(unsafe) private var stopRequested: Int32 = 0

/// Records a running or launched VMM into a trace file (see `RecordOptions`).
public enum Recorder {
    public static func record(_ options: RecordOptions) throws -> RecordSummary {
        guard options.pids.isEmpty != options.command.isEmpty else {
            throw RecordingFailed(description: "give either -p PID (attach) or -- COMMAND (launch), not both")
        }
        let header = TraceHeader.forThisHost(source: "record", command: options.command, pids: options.pids)
        let writer: TraceWriter
        do { writer = try TraceWriter(path: options.output, header: header) } catch {
            throw RecordingFailed(description: error.description)
        }
        let queue = EventQueue(writer: writer, status: options.status)
        let boundary = LinuxPtrace()
        let mode: Tracer.Mode = options.command.isEmpty ? .attach : .launch
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
                for pid in options.pids {
                    let fds = ProcFS.openFds(of: pid)
                    let (names, mappings) = AttachedState.readBack(pid: pid, fds: fds)
                    _ = try tracer.attach(
                        pid: pid, threads: ProcFS.threads(of: pid), openFds: fds, deviceNames: names, mappings: mappings)
                }
            case .launch:
                let pid = try spawn(options.command, boundary: boundary)
                tracer.adoptLaunched(pid: pid, command: options.command)
            }
        } catch {
            tracer.detachAll()
            queue.finish()
            try? writer.close()
            throw RecordingFailed(description: "\(error)")
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
        return RecordSummary(
            events: writer.eventsWritten, lost: queue.dropped, bytes: writer.bytesWritten, syscallStops: tracer.syscallStops,
            childStatus: tracer.childStatus, writeFailure: failure ?? closeError)
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
        guard pid > 0 else { throw RecordingFailed(description: "cannot fork: \(String(cString: strerror(errno)))") }
        var status: Int32 = 0
        // The child stops itself (SIGSTOP) once its filter is in place, or exits if it could not set it.
        guard waitpid(pid, &status, WUNTRACED) == pid else { throw RecordingFailed(description: "lost the launched process \(pid)") }
        if vft_wifexited(status) != 0 {
            throw RecordingFailed(description: "the seccomp filter could not be installed (status \(vft_wexitstatus(status)))")
        }
        let err = boundary.seize(pid, options: PtraceOptions.follow | PtraceOptions.traceSeccomp | PtraceOptions.exitKill)
        guard err == 0 else {
            kill(pid, SIGKILL)
            throw RecordingFailed(description: "cannot trace the launched process: \(errnoName(err))")
        }
        kill(pid, SIGCONT)
        while true {
            guard waitpid(pid, &status, Int32(bitPattern: 0x4000_0000)) == pid else {
                throw RecordingFailed(description: "lost the launched process \(pid)")
            }
            if vft_wifexited(status) != 0 || vft_wifsignaled(status) != 0 {
                let code = vft_wifexited(status) != 0 ? vft_wexitstatus(status) : 128 + vft_wtermsig(status)
                throw RecordingFailed(
                    description: code == 127
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
