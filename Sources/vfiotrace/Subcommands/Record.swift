import ArgumentParser
import Foundation
import TraceFormat
import TraceRecorder

/// `vfiotrace record`: attach to a running VMM (-p) or launch one (-- CMD) and write a trace.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record VFIO, KVM memslot, eventfd, mmap and device_state activity of a VMM.",
        discussion: """
            Attach:  vfiotrace record -p PID [-p PID…] -o FILE [--duration 30s] [--threads TID,…]
                     Every thread is seized with PTRACE_SEIZE (never with exit-kill): Ctrl-C, SIGTERM or the end of
                     --duration detach cleanly and the VMM keeps running; if the recorder itself is killed the kernel
                     detaches and the VMM survives. Each syscall of a traced thread costs two ptrace stops, so
                     --threads limits recording to the threads that matter (e.g. the main loop and the VFIO thread).
            Launch:  vfiotrace record -o FILE -- CMD ARGS…
                     A seccomp-bpf filter makes only VFIO ioctls, KVM memslot/irqfd/VM ioctls and the fd, eventfd, read/write,
                     mmap (of files, or MAP_FIXED), munmap and pread/pwrite calls stop; KVM_RUN, anonymous allocations and all
                     other calls run at full speed. The recorder stays with the
                     command until it exits (a seccomp filter cannot be removed, and its filtered calls need a tracer):
                     Ctrl-C and SIGTERM are passed on to the command; after --duration or a full disk the command runs
                     on, unrecorded. If the recorder is killed, the kernel kills the command too (PTRACE_O_EXITKILL).
            Exit status: launch mode returns the command's status; 1 when the file could not be written; 2 usage errors.
            """)

    @Option(name: [.customShort("p"), .long], help: "Process to attach to (repeatable).") var pid: [Int32] = []
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String
    @Option(help: "Stop and detach after this long (e.g. 30s, 500ms).") var duration: DurationArgument?
    @Option(help: "Only record these thread ids (comma-separated).") var threads: String?
    @Argument(parsing: .captureForPassthrough, help: "Command to launch (after --).") var command: [String] = []

    func run() throws {
        var cmd = command
        if cmd.first == "--" { cmd.removeFirst() }
        guard pid.isEmpty != cmd.isEmpty else {
            throw CommandFailure("give either -p PID to attach or -- COMMAND to launch (see `vfiotrace record --help`)")
        }
        var options = RecordOptions(output: output)
        options.pids = pid
        options.command = cmd
        options.durationNs = duration?.nanoseconds
        if let threads {
            let parsed = threads.split(separator: ",").map { Int32($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.contains(nil) else { throw CommandFailure("--threads: expected comma-separated thread ids, got '\(threads)'") }
            options.threads = Set(parsed.compactMap { $0 })
        }
        let err = FileHandleStream.standardError
        if err.isTerminal {
            options.status = { line in FileHandleStream.standardError.write("\r\u{1B}[Krecording: " + line) }
        }
        let summary: RecordSummary
        do { summary = try Recorder.record(options) } catch { throw CommandFailure("record: \(error)") }
        if err.isTerminal { err.write("\r\u{1B}[K") }
        var line = "vfiotrace: recorded \(summary.events) events (\(summary.bytes) bytes, \(summary.syscallStops) syscall stops) to \(output)"
        if summary.lost > 0 { line += "; \(summary.lost) events LOST (queue full; marked in the trace)" }
        err.write(line + "\n")
        if let f = summary.writeFailure {
            let fate =
                summary.childStatus.map { "the command ran on under the recorder until it exited (status \($0))" }
                ?? "the traced process was left running"
            throw CommandFailure("stopped recording: \(f); \(fate); everything written before is readable", exitCode: 1)
        }
        if let status = summary.childStatus, status != 0 { terminate(status) }
    }
}
