import Testing
import TraceFormat

@testable import TraceRecorder

/// A scripted kernel: hands out stops in order and records every restart the tracer asks for.
final class ScriptedPtrace: PtraceBoundary {
    var stops: [TraceeStop] = []
    var infos: [Int32: [SyscallInfo]] = [:]
    var resumes: [(Int32, ResumeMode, Int32)] = []
    var detached: [(Int32, Int32)] = []
    var clock: UInt64 = 1_000
    var tgids: [Int32: Int32] = [:]
    /// Every PTRACE_SEIZE asked for (tid, options), and the errno to answer per tid (0 when absent).
    var seized: [(Int32, Int)] = []
    var seizeErrors: [Int32: Int32] = [:]

    func seize(_ tid: Int32, options: Int) -> Int32 {
        seized.append((tid, options))
        return seizeErrors[tid] ?? 0
    }
    func interrupt(_ tid: Int32) {}
    func wait() -> TraceeStop? { stops.isEmpty ? nil : stops.removeFirst() }
    func syscallInfo(_ tid: Int32) -> SyscallInfo { infos[tid]?.isEmpty == false ? infos[tid]!.removeFirst() : .none }
    func resume(_ tid: Int32, _ mode: ResumeMode, signal: Int32) { resumes.append((tid, mode, signal)) }
    func detach(_ tid: Int32, signal: Int32) -> Int32 {
        detached.append((tid, signal))
        return 0
    }
    func threadGroup(of tid: Int32) -> Int32 { tgids[tid] ?? tid }
    func now() -> UInt64 {
        clock += 100
        return clock
    }
}

@Suite struct TracerStateMachineTests {
    let t = SyscallTable.x86_64
    func make(_ k: ScriptedPtrace, mode: Tracer.Mode = .attach, threads: Set<Int32>? = nil) -> (Tracer, () -> [TraceEvent]) {
        final class Box { var events: [TraceEvent] = [] }
        let box = Box()
        let tracer = Tracer(boundary: k, decoder: SyscallDecoder(), memory: FakeMemory(), table: t, mode: mode, threadFilter: threads) {
            box.events.append($0)
        }
        return (tracer, { box.events })
    }

    @Test("entries and exits pair per thread even when two threads interleave")
    func interleavedThreads() throws {
        let k = ScriptedPtrace()
        let (tracer, events) = make(k)
        _ = try tracer.attach(pid: 10, threads: [10, 11], openFds: [])
        let efd = t.number(of: .eventfd2)!
        let close = t.number(of: .close)!
        k.infos[10] = [.entry(number: efd, args: [0, 0o2000000, 0, 0, 0, 0]), .exit(result: 7)]
        k.infos[11] = [.entry(number: close, args: [99, 0, 0, 0, 0, 0]), .exit(result: 0)]
        for s in [TraceeStop.syscall(tid: 10), .syscall(tid: 11), .syscall(tid: 11), .syscall(tid: 10)] { tracer.handle(s) }
        let creates = events().compactMap { e -> (Int32, UInt64, UInt64)? in
            if case .eventfd(let op) = e.payload, op.operation == .create { return (e.tid, e.time, e.endTime) }
            return nil
        }
        #expect(creates.count == 1)
        #expect(creates.first?.0 == 10)
        // Entry was the first clock reading of thread 10's syscall, exit the last: the other thread's stops lie between.
        #expect(creates.first.map { $0.2 - $0.1 } == 300)
        // Attach mode restarts with PTRACE_SYSCALL after every stop.
        #expect(k.resumes.allSatisfy { $0.1 == .syscall })
    }

    @Test("signals are re-injected, new threads are followed, an exit removes the thread")
    func signalsThreadsExit() throws {
        let k = ScriptedPtrace()
        let (tracer, events) = make(k)
        _ = try tracer.attach(pid: 10, threads: [10], openFds: [])
        tracer.handle(.signal(tid: 10, signal: 10))
        #expect(k.resumes.last! == (10, .syscall, 10))
        tracer.handle(.newTask(tid: 10, child: 12, isThread: true))
        #expect(tracer.threads[12]?.pid == 10)
        tracer.handle(.eventStop(tid: 12, signal: 19))
        #expect(k.resumes.last! == (12, .syscall, 0))
        tracer.handle(.exited(tid: 12, status: 0))
        tracer.handle(.exited(tid: 10, status: 3))
        #expect(tracer.isEmpty)
        let ops = events().compactMap { e -> ProcessChange.Operation? in
            if case .process(let p) = e.payload { return p.operation }
            return nil
        }
        #expect(ops == [.attach, .threadStart, .exit])
    }

    @Test("launch mode: a seccomp stop asks for the exit stop, then continues without syscall stops")
    func launchSeccomp() {
        let k = ScriptedPtrace()
        let (tracer, events) = make(k, mode: .launch)
        tracer.adoptLaunched(pid: 20, command: ["vmm"])
        k.infos[20] = [.seccomp(number: t.number(of: .eventfd2)!, args: [1, 0, 0, 0, 0, 0]), .exit(result: 5)]
        tracer.handle(.seccomp(tid: 20))
        #expect(k.resumes.last! == (20, .syscall, 0))
        tracer.handle(.syscall(tid: 20))
        #expect(k.resumes.last! == (20, .cont, 0))
        #expect(events().contains { if case .eventfd(let op) = $0.payload { return op.fd == 5 && op.value == 1 } else { return false } })
        tracer.handle(.exited(tid: 20, status: 4))
        #expect(tracer.childStatus == 4)
    }

    @Test("detach interrupts every thread and hands a pending signal over")
    func detachAll() throws {
        let k = ScriptedPtrace()
        let (tracer, _) = make(k)
        _ = try tracer.attach(pid: 10, threads: [10, 11], openFds: [])
        k.stops = [.eventStop(tid: 10, signal: 5), .signal(tid: 11, signal: 15)]
        tracer.detachAll()
        #expect(k.detached.contains { $0 == (10, 0) })
        #expect(k.detached.contains { $0 == (11, 15) })
        #expect(tracer.isEmpty)
    }

    @Test("--threads: only the named thread is seized, without following clones; a task nobody named is let go at its first stop")
    func threadFilterSeizesOnlyNamed() throws {
        let k = ScriptedPtrace()
        let (tracer, _) = make(k, threads: [11])
        #expect(try tracer.attach(pid: 10, threads: [10, 11, 12], openFds: []) == 1)
        #expect(k.seized.map(\.0) == [11], "threads 10 and 12 were not named and must never be seized")
        let options = try #require(k.seized.first?.1)
        #expect(options & PtraceOptions.traceClone == 0 && options & PtraceOptions.traceFork == 0 && options & PtraceOptions.traceVFork == 0)
        #expect(options & PtraceOptions.traceSysGood != 0)
        // Should a kernel hand over a task anyway: its first stop detaches it, a signal stop hands the signal over.
        tracer.handle(.newTask(tid: 11, child: 13, isThread: true))
        #expect(tracer.threads[13] == nil)
        tracer.handle(.eventStop(tid: 13, signal: 19))
        tracer.handle(.signal(tid: 14, signal: 15))
        #expect(k.detached.contains { $0 == (13, 0) } && k.detached.contains { $0 == (14, 15) })
        #expect(!k.resumes.contains { $0.0 == 13 || $0.0 == 14 })
        #expect(Set(tracer.threads.keys) == [11])
    }

    @Test("--threads: a named thread's execve moves it to the process's tid, and it stays recorded there")
    func threadFilterFollowsExec() throws {
        let k = ScriptedPtrace()
        let (tracer, events) = make(k, threads: [11])
        _ = try tracer.attach(pid: 10, threads: [10, 11], openFds: [])
        tracer.handle(.exec(tid: 10, formerTid: 11))
        #expect(Set(tracer.threads.keys) == [10])
        k.infos[10] = [.entry(number: t.number(of: .eventfd2)!, args: [0, 0, 0, 0, 0, 0]), .exit(result: 6)]
        tracer.handle(.syscall(tid: 10))
        tracer.handle(.syscall(tid: 10))
        #expect(events().contains { if case .eventfd(let op) = $0.payload { return op.fd == 6 } else { return false } })
    }

    @Test("launch mode never lets a task go, filter or not: its seccomp stops need a tracer")
    func launchKeepsUnnamed() {
        let k = ScriptedPtrace()
        let (tracer, _) = make(k, mode: .launch, threads: [20])
        tracer.adoptLaunched(pid: 20, command: ["vmm"])
        tracer.handle(.eventStop(tid: 21, signal: 19))
        #expect(k.detached.isEmpty)
        #expect(k.resumes.last! == (21, .cont, 0))
    }

    @Test("attach: a refused seize throws with the thread and errno; a thread that vanished is skipped; none seized throws ESRCH")
    func seizeFailures() throws {
        let k = ScriptedPtrace()
        k.seizeErrors = [11: 1, 12: 3]  // EPERM, ESRCH
        let (tracer, _) = make(k)
        #expect(throws: RecorderError.self) { try tracer.attach(pid: 10, threads: [10, 11], openFds: []) }
        do { _ = try tracer.attach(pid: 10, threads: [10, 11], openFds: []) } catch {
            #expect(error.tid == 11 && error.errno == 1)
        }
        let k2 = ScriptedPtrace()
        k2.seizeErrors = [12: 3]
        let (tracer2, _) = make(k2)
        #expect(try tracer2.attach(pid: 10, threads: [10, 12], openFds: []) == 1)
        let k3 = ScriptedPtrace()
        k3.seizeErrors = [10: 3]
        let (tracer3, _) = make(k3)
        do {
            _ = try tracer3.attach(pid: 10, threads: [10], openFds: [])
            Issue.record("attaching to a process with no thread left must fail")
        } catch {
            #expect(error.errno == 3)
        }
    }

    @Test("a syscall number the tracee chose out of range (syscall(-1) arrives as 2^64 - 1) is no trap and no event")
    func hostileSyscallNumber() throws {
        #expect(SyscallInfo(op: 1, nr: UInt64.max, args: [0, 0, 0, 0, 0, 0], rval: 0) == .entry(number: -1, args: [0, 0, 0, 0, 0, 0]))
        #expect(SyscallInfo(op: 3, nr: 1 << 63, args: [], rval: 0) == .seccomp(number: Int.min, args: []))
        #expect(SyscallInfo(op: 2, nr: UInt64.max, args: [], rval: -38) == .exit(result: -38))
        #expect(SyscallInfo(op: 9, nr: 0, args: [], rval: 0) == SyscallInfo.none)
        let k = ScriptedPtrace()
        let (tracer, events) = make(k)
        _ = try tracer.attach(pid: 10, threads: [10], openFds: [])
        k.infos[10] = [SyscallInfo(op: 1, nr: UInt64.max, args: [0, 0, 0, 0, 0, 0], rval: 0), .exit(result: -38)]
        let before = events().count
        tracer.handle(.syscall(tid: 10))
        tracer.handle(.syscall(tid: 10))
        #expect(events().count == before)
    }
}
