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

    func seize(_ tid: Int32, options: Int) -> Int32 { 0 }
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
    func make(_ k: ScriptedPtrace, mode: Tracer.Mode = .attach) -> (Tracer, () -> [TraceEvent]) {
        final class Box { var events: [TraceEvent] = [] }
        let box = Box()
        let tracer = Tracer(boundary: k, decoder: SyscallDecoder(), memory: FakeMemory(), table: t, mode: mode) { box.events.append($0) }
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
}
