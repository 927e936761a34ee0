import ArgumentParser
import Foundation
import TraceFormat
import TraceRecorder

/// `vfiotrace record`: attach to a running VMM (-p) or launch one (-- CMD) and write a trace.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record VFIO, KVM memslot, eventfd, mmap and device_state activity of a VMM.",
        discussion: """
            Examples:
              vfiotrace record -p $(pidof qemu-system-x86_64) -o mig.vftrace --duration 30s
              vfiotrace record --backend bpf -p PID -o mig.vftrace
              vfiotrace record -o run.vftrace -- qemu-system-x86_64 ...

            Attach (-p PID): the threads are seized with PTRACE_SEIZE, never with exit-kill: Ctrl-C, SIGTERM or the \
            end of --duration detach cleanly and the VMM keeps running; if the recorder itself is killed the kernel \
            detaches and the VMM survives. Each syscall of a traced thread costs two ptrace stops, so --threads \
            limits recording to the threads that matter (the main loop and the VFIO thread): only the named threads \
            are seized, the others are never traced and never stop (nor are threads created later). Each id must be \
            a thread of a -p process (ls /proc/PID/task).

            Launch (-- CMD ARGS): a seccomp-bpf filter makes only VFIO ioctls, KVM memslot/irqfd/VM ioctls and the \
            fd, eventfd, read/write, mmap (of files, or MAP_FIXED), munmap and pread/pwrite calls stop; KVM_RUN, \
            anonymous allocations and all other calls run at full speed. The recorder stays with the command until it \
            exits (a seccomp filter cannot be removed, and its filtered calls need a tracer): Ctrl-C and SIGTERM are \
            passed on to the command; after --duration or a full disk the command runs on, unrecorded. If the \
            recorder is killed, the kernel kills the command too (PTRACE_O_EXITKILL).

            Backends (--backend): ptrace is the above (the default). bpf: an eBPF program on tracepoints filters \
            and records in the kernel, in attach and launch mode: the VMM never stops, KVM_RUN costs nothing, \
            argument structs are read in the kernel at each call's exit (bounded by argsz, 4096 bytes at most), and \
            records the ring buffer could not hold are written as lost events with their count; it needs root and a \
            kernel with BTF, x86_64 only (docs/BPF.md); if the recorder dies, the kernel removes the program and the \
            VMM runs on untouched. --kvm-events adds the kernel's own events as markers in the same clock: trapped \
            guest MMIO (kvm.mmio), KVM's unmaps of host ranges, exits to the VMM, GSIs, vfio-pci's interrupt \
            handlers. auto: bpf where it loads, else ptrace, saying which and why on stderr.

            Exit status: 0 recorded, the trace file complete (launch mode: and the command exited with status 0). \
            1 the trace file could not be written: nothing was recorded when even its header could not be written \
            (nothing was attached or launched then); after a write failure part-way (a full disk) the file holds the \
            events up to its last complete chunk and the message says how many. 2 nothing was recorded: usage \
            error, or the process cannot be recorded (no such process, exited, a kernel thread, already traced by \
            another process, ptrace not permitted, a --threads id that is not one of its threads) or the command \
            could not be started; no trace file is written. N (launch mode) the command's own non-zero exit status \
            (128 + signal when it was killed).
            """)

    @Option(name: [.customShort("p"), .long], help: "Process to attach to (repeatable).") var pid: [Int32] = []
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String
    @Option(
        parsing: .unconditional,
        help:
            "Stop recording after this long, e.g. 30s or 500ms (a bare number is seconds, as timeout(1) takes it); by default until Ctrl-C or the end of the command.",
        transform: DurationArgument.transformSeconds)
    var duration: DurationArgument?
    @Option(help: "Only record these thread ids (comma-separated).") var threads: String?
    @Option(help: "How to record: ptrace, bpf or auto (bpf where it loads, else ptrace).") var backend: String = "ptrace"
    @Option(help: "bpf backend: the kernel ring buffer's size in KiB (a power of two, at least 4).") var bpfRingKib: UInt32 = 8192
    @Flag(
        inversion: .prefixedNo,
        help: "bpf backend: also record KVM's events (trapped guest MMIO, unmaps, exits to the VMM, GSIs) and vfio-pci's interrupt handlers."
    ) var kvmEvents = false
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
        guard let chosen = RecordBackend(rawValue: backend) else {
            throw CommandFailure("--backend: expected ptrace, bpf or auto, got '\(TerminalText.escaped(backend))'")
        }
        options.backend = chosen
        guard bpfRingKib >= 4, bpfRingKib <= 1 << 20, bpfRingKib & (bpfRingKib - 1) == 0 else {
            throw CommandFailure("--bpf-ring-kib: expected a power of two from 4 to 1048576, got \(bpfRingKib)")
        }
        options.bpfRingBytes = bpfRingKib * 1024
        options.bpfKernelEvents = kvmEvents
        if chosen == .auto { options.notice = { FileHandleStream.standardError.write("vfiotrace: " + TerminalText.escaped($0) + "\n") } }
        if let threads {
            let parsed = threads.split(separator: ",").map { Int32($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.contains(nil) else { throw CommandFailure("--threads: expected comma-separated thread ids, got '\(threads)'") }
            options.threads = Set(parsed.compactMap { $0 })
        }
        let progress = ProgressLine()
        if progress.enabled { options.status = { progress.show("recording: " + $0) } }
        let summary: RecordSummary
        do { summary = try Recorder.record(options) } catch let failure as RecordingFailed {
            throw CommandFailure("record: \(failure.description)", exitCode: failure.code == .output ? 1 : 2)
        } catch {
            throw CommandFailure("record: \(error)")
        }
        progress.clear()
        // Each clause says what is in the file, counted by the writer, not what was meant to be written.
        let file = TerminalText.escaped(output)
        let work =
            summary.backend == .bpf ? "\(summary.kernelRecords) records from the kernel" : "\(summary.syscallStops) syscall stops"
        var line = "vfiotrace: recorded \(summary.events) events (\(summary.bytes) bytes, \(work)) to \(file)"
        if summary.writeFailure != nil {
            line =
                "vfiotrace: \(file) holds the first \(summary.events) events (\(summary.bytes) bytes, its complete chunks; "
                + "\(work)); nothing after them was written"
        }
        if summary.lost > 0 {
            line += "; \(summary.lost) events LOST (queue full"
            line +=
                summary.lostMarked == summary.lost
                ? "; marked in the trace)"
                : summary.lostMarked == 0 ? "; not marked in the trace)" : "; \(summary.lostMarked) of them marked in the trace)"
        }
        if summary.kernelDropped > 0 {
            line += "; \(summary.kernelDropped) syscalls LOST in the kernel (BPF ring buffer full; marked in the trace)"
        }
        if summary.rejected > 0 { line += "; \(summary.rejected) events too large for the format left out" }
        FileHandleStream.standardError.write(line + "\n")
        if let f = summary.writeFailure {
            let fate: String
            if let status = summary.childStatus {
                fate = "the command ran on under the recorder until it exited (status \(status))"
            } else {
                var parts: [String] = []
                if !summary.leftRunning.isEmpty {
                    parts.append("\(Self.processes(summary.leftRunning)) left running, no longer traced")
                }
                if !summary.exited.isEmpty { parts.append("\(Self.processes(summary.exited)) exited during the recording") }
                fate = parts.joined(separator: "; ")
            }
            throw CommandFailure("stopped recording: \(f); \(fate); `vfiotrace verify` reports the file as truncated", exitCode: 1)
        }
        if let status = summary.childStatus, status != 0 { terminate(status) }
    }

    /// "the traced process 42" / "the traced processes 42, 43".
    static func processes(_ pids: [Int32]) -> String {
        (pids.count == 1 ? "the traced process " : "the traced processes ") + pids.map(String.init).joined(separator: ", ")
    }
}
