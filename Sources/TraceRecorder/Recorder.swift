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
                    _ = try tracer.attach(pid: pid, threads: ProcFS.threads(of: pid), openFds: ProcFS.openFds(of: pid))
                }
            case .launch:
                let pid = try spawn(options.command)
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

        var failure: TraceError?
        while !tracer.isEmpty {
            if stopRequested != 0 { break }
            if let f = queue.writeFailure {
                failure = f
                break
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

    /// Forks the command with PTRACE_TRACEME and the seccomp filter, and waits for its post-exec stop.
    static func spawn(_ command: [String]) throws -> Int32 {
        let filter = SeccompFilter()
        var cargs = command.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        let pid = filter.withSockFilter { prog, count in
            cargs.withUnsafeBufferPointer { vft_spawn_traced($0.baseAddress!, prog, count) }
        }
        guard pid > 0 else { throw RecordingFailed(description: "cannot fork: \(String(cString: strerror(errno)))") }
        var status: Int32 = 0
        guard waitpid(pid, &status, Int32(bitPattern: 0x4000_0000)) == pid else {
            throw RecordingFailed(description: "lost the launched process \(pid)")
        }
        if vft_wifexited(status) != 0 {
            let code = vft_wexitstatus(status)
            throw RecordingFailed(
                description: code == 127
                    ? "cannot run '\(command[0])': not found or not executable"
                    : "'\(command[0])' could not be started under the recorder (status \(code))")
        }
        return pid
    }
}
