import CBPFRecorder
import CSyscallShim
import Foundation
import TraceFormat

extension Recorder {
    /// Records with the eBPF program when `options.backend` asks for it and it loads; nil when `.auto` falls back to
    /// ptrace (the reason told through `options.notice`). The VMM is never stopped: the kernel filters, reads the
    /// argument memory at each syscall's exit and hands over one record per call through a ring buffer.
    static func recordWithBPFIfAvailable(_ options: RecordOptions, pids: [Int32]) throws -> RecordSummary? {
        let launch = !options.command.isEmpty
        if !launch, let obstacle = AttachObstacle.find(pids: pids, threads: options.threads) {
            // Another tracer is no obstacle to a BPF program.
            if case .alreadyTraced = obstacle {} else { throw RecordingFailed(.target, obstacle.description) }
        }
        func unavailable(_ reason: BPFUnavailable) throws -> RecordSummary? {
            if options.backend == .bpf { throw RecordingFailed(.target, "the bpf backend cannot record here: \(reason)") }
            options.notice?("recording with ptrace: the bpf backend cannot record here (\(reason))")
            return nil
        }
        var settings = BPFProgram.Settings()
        settings.filterThreads = options.threads != nil
        settings.followForks = options.threads == nil
        if let bytes = options.bpfRingBytes { settings.ringBytes = bytes }
        settings.interruptEvents = options.bpfKernelEvents
        settings.kvmEvents = options.bpfKernelEvents && BPFProgram.kernelHasKVM
        if options.bpfKernelEvents && !settings.kvmEvents {
            options.notice?("no KVM in this kernel: recording vfio-pci's interrupt handlers but no KVM events")
        }
        // Attach mode: the memslots made before the attach, from KVM's tables (an iterator that needs KVM's types in
        // the kernel's BTF; without it the rest still loads, and the analyzer falls back to its attach heuristic).
        settings.memslotSnapshot = !launch && BPFProgram.kernelHasKVM
        let program: BPFProgram
        do { program = try BPFProgram(settings) } catch {
            guard settings.memslotSnapshot else { return try unavailable(error) }
            options.notice?("memslots made before the attach will be unknown: the memslot iterator does not load here (\(error))")
            settings.memslotSnapshot = false
            do { program = try BPFProgram(settings) } catch { return try unavailable(error) }
        }
        do {
            for pid in pids { _ = program.addProcess(pid) }
            for tid in options.threads ?? [] { _ = program.addThread(tid) }
            try program.attach()
        } catch { return try unavailable(error) }
        let header = TraceHeader.forThisHost(source: "record", command: options.command, pids: pids)
        let writer: TraceWriter
        do { writer = try TraceWriter(path: options.output, header: header) } catch {
            throw RecordingFailed(
                .output,
                "cannot write the trace file: \(error.description); nothing was recorded"
                    + (launch ? " and the command was not started" : " and the process was not touched"))
        }
        options.notice?("recording with the bpf backend (tracepoints; the \(launch ? "command" : "process") never stops)")
        let queue = EventQueue(writer: writer, status: options.status)
        let backend = BPFBackend(decoder: SyscallDecoder()) { queue.push($0) }
        stopRequested = 0
        vft_install_stop_handlers(&stopRequested)
        defer { vft_remove_stop_handlers() }
        queue.start()

        var launched: Int32?
        if launch {
            do { launched = try spawnGated(options.command, program: program, backend: backend) } catch {
                queue.finish()
                try? writer.close()
                unlink(options.output)
                throw error
            }
        } else {
            // Taken after the tracepoints are attached and stamped before the walk: a memslot call completing later is
            // recorded, and applies after the snapshot.
            let snapshotTime = MonotonicClock.now()
            var snapshot: MemslotSnapshot?
            if settings.memslotSnapshot {
                switch program.memslotSnapshot(pids: Set(pids)) {
                case .success(let s): snapshot = s
                case .failure(let why): options.notice?("memslots made before the attach are unknown: \(why)")
                }
            }
            for pid in pids {
                let fds = ProcFS.openFds(of: pid)
                let (names, mappings) = AttachedState.readBack(pid: pid, fds: fds)
                let threads = ProcFS.threads(of: pid).filter { options.threads?.contains($0) ?? true }.count
                backend.attach(
                    pid: pid, threads: threads, openFds: fds, deviceNames: names, mappings: mappings, memslots: snapshot, time: snapshotTime)
            }
        }
        options.onReady?()
        if let d = options.durationNs {
            var timer = itimerval(it_interval: timeval(), it_value: timeval(tv_sec: Int(d / 1_000_000_000), tv_usec: Int(d % 1_000_000_000 / 1000)))
            setitimer(Int32(ITIMER_REAL.rawValue), &timer, nil)
        }

        // Attach mode ends on a stop request, a write failure or when the processes are gone. Launch mode waits for
        // the command: a stop signal is passed on to it, and after --duration or a write failure it runs on unrecorded.
        var failure: TraceError?
        var childStatus: Int32?
        var recording = true
        var lastLivenessCheck = MonotonicClock.now()
        // Launch mode: the command's exit (its pidfd readable) ends the wait at once; else the recording would notice
        // it only at the next 100 ms poll, the program waking the recorder only for a quarter-full ring.
        let exitFd = launched.map { vft_pidfd_open($0) } ?? -1
        defer { if exitFd >= 0 { close(exitFd) } }
        while true {
            if stopRequested != 0 {
                let sig = stopRequested
                stopRequested = 0
                if let pid = launched, sig != SIGALRM {
                    kill(pid, sig)
                } else if launched != nil {
                    queue.stopRecording()
                    recording = false
                } else {
                    break
                }
            }
            if failure == nil, let f = queue.writeFailure {
                failure = f
                if launched == nil { break }
                queue.stopRecording()
                recording = false
                options.status?("stopped recording: \(f); the command runs on unrecorded until it exits")
            }
            let handled = program.poll(timeoutMs: 100, wakeFd: exitFd) { raw in if recording { backend.handle(raw) } }
            if recording {
                backend.noteDrops(program.dropped)
                backend.noteSkippedMMIO(program.mmioSkipped)
            }
            if handled < 0 && handled != -EINTR {
                failure = failure ?? TraceError(.io, "the BPF ring buffer failed: \(ErrnoNames.name(-handled))")
                break
            }
            if let pid = launched {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    childStatus = vft_wifexited(status) != 0 ? vft_wexitstatus(status) : 128 + vft_wtermsig(status)
                    // The exit record is in the ring by now: take it and whatever came before.
                    _ = program.poll(timeoutMs: 0) { raw in if recording { backend.handle(raw) } }
                    break
                }
            } else {
                if backend.processes.isEmpty { break }
                // A process whose exit record the full ring could not take: stop waiting for it.
                let now = MonotonicClock.now()
                if now - lastLivenessCheck > 500_000_000 {
                    lastLivenessCheck = now
                    for pid in backend.processes {
                        let alive = ProcFS.status(pid: pid).map { $0.state != "Z" && $0.state != "X" } ?? false
                        if !alive { backend.forget(pid) }
                    }
                }
            }
        }
        var timer = itimerval()
        setitimer(Int32(ITIMER_REAL.rawValue), &timer, nil)
        if recording {
            _ = program.poll(timeoutMs: 0) { raw in backend.handle(raw) }
            backend.noteDrops(program.dropped)
            backend.noteSkippedMMIO(program.mmioSkipped)
            backend.detachAll()
        }
        let dropped = program.dropped
        queue.finish()
        failure = failure ?? queue.writeFailure
        var closeError: TraceError?
        do { try writer.close() } catch { closeError = error }
        var summary = RecordSummary(
            events: writer.eventsWritten, lost: queue.dropped, lostMarked: queue.lostMarked(sealedEvents: writer.eventsWritten),
            rejected: queue.rejected, bytes: writer.bytesWritten, syscallStops: 0,
            childStatus: childStatus, writeFailure: failure ?? closeError)
        summary.backend = .bpf
        summary.kernelRecords = backend.records
        summary.kernelDropped = dropped
        if !launch {
            for pid in pids {
                let alive = ProcFS.status(pid: pid).map { $0.state != "Z" && $0.state != "X" } ?? false
                if alive { summary.leftRunning.append(pid) } else { summary.exited.append(pid) }
            }
        }
        return summary
    }

    /// Starts the command held before its exec, puts it in the program's traced set, then lets it exec: its
    /// every traced syscall from the exec on is recorded. Throws when it cannot be started.
    static func spawnGated(_ command: [String], program: BPFProgram, backend: BPFBackend) throws -> Int32 {
        var cargs = command.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var gate: Int32 = -1
        let pid = cargs.withUnsafeBufferPointer { vft_bpf_spawn_gated($0.baseAddress!, &gate) }
        guard pid > 0 else { throw RecordingFailed(.target, "cannot fork: \(String(cString: strerror(-pid)))") }
        let added = program.addProcess(pid)
        guard added == 0 else {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw RecordingFailed(.target, "cannot add the launched process to the BPF program's set: \(ErrnoNames.name(-added))")
        }
        backend.adoptLaunched(pid: pid, command: command)
        let err = vft_bpf_release(gate)
        if err != 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            throw RecordingFailed(.target, "cannot run '\(command[0])': \(String(cString: strerror(err)))")
        }
        return pid
    }
}
