import Testing
import TraceFormat

@testable import TraceRecorder

/// What `record -p` finds in /proc before it writes or touches anything, from crafted /proc answers.
@Suite struct AttachObstacleTests {
    /// A /proc holding `tasks` (tid -> status text) grouped by `threads` (pid -> tids), with `comms`.
    static func view(
        tasks: [Int32: String], threads: [Int32: [Int32]], comms: [Int32: String] = [:], root: Bool = true, scope: Int? = 1
    ) -> ProcessView {
        ProcessView(
            status: { pid, tid in tasks[tid ?? pid].map(ProcStatus.init(text:)) }, threads: { threads[$0] ?? [] },
            comm: { comms[$0] }, ptraceScope: { scope }, isRoot: { root }, ownPid: { 1 })
    }

    static func task(_ tgid: Int32, state: String = "S", tracer: Int32 = 0) -> String {
        "Name:\tvmm\nState:\t\(state) (x)\nTgid:\t\(tgid)\nPid:\t0\nTracerPid:\t\(tracer)\n"
    }

    @Test("a pid with no /proc entry, a zombie, a kernel thread, a thread id, the recorder itself")
    func processes() {
        let v = Self.view(
            tasks: [10: Self.task(10), 11: Self.task(10), 20: Self.task(20, state: "Z"), 2: Self.task(2) + "Kthread:\t1\n", 1: Self.task(1)],
            threads: [10: [10, 11], 20: [20], 2: [2], 1: [1]])
        #expect(AttachObstacle.find(pids: [99], threads: nil, view: v) == .noSuchProcess(pid: 99))
        #expect(AttachObstacle.find(pids: [0], threads: nil, view: v) == .noSuchProcess(pid: 0))
        #expect(AttachObstacle.find(pids: [20], threads: nil, view: v) == .exited(pid: 20))
        #expect(AttachObstacle.find(pids: [2], threads: nil, view: v) == .kernelThread(pid: 2))
        #expect(AttachObstacle.find(pids: [11], threads: nil, view: v) == .threadNotProcess(tid: 11, process: 10))
        #expect(AttachObstacle.find(pids: [1], threads: nil, view: v) == .recorderItself(pid: 1))
        #expect(AttachObstacle.find(pids: [10], threads: nil, view: v) == nil)
        #expect(AttachObstacle.noSuchProcess(pid: 99).description.contains("no such process"))
    }

    @Test("--threads naming a tid of no recorded process lists the process's threads, the first few and a count")
    func unknownThreads() throws {
        let tids = Array(Int32(100)...Int32(119))
        var tasks = Dictionary(uniqueKeysWithValues: tids.map { ($0, Self.task(100)) })
        tasks[500] = Self.task(500)
        let v = Self.view(tasks: tasks, threads: [100: tids, 500: [500]])
        let obstacle = try #require(AttachObstacle.find(pids: [100], threads: [101, 500, 999], view: v))
        #expect(obstacle == .unknownThreads(tids: [500, 999], recorded: [.init(pid: 100, threads: tids)], elsewhere: [500: 500]))
        let text = obstacle.description
        #expect(text.contains("threads 500, 999 are not a thread of process 100"))
        #expect(text.contains("500 is a thread of process 500, which is not being recorded"))
        #expect(text.contains("100, 101, 102, 103, 104, 105, 106, 107, …") && !text.contains("108"))
        #expect(text.contains("process 100 has 20 threads: 100,") && text.contains("ls /proc/100/task lists them all"))
        // Named threads all belong to another -p process: this one would record nothing.
        let two = Self.view(tasks: [10: Self.task(10), 20: Self.task(20)], threads: [10: [10], 20: [20]])
        #expect(AttachObstacle.find(pids: [10, 20], threads: [20], view: two) == .noNamedThread(.init(pid: 10, threads: [10])))
        #expect(AttachObstacle.find(pids: [10], threads: [], view: two) == .noNamedThread(.init(pid: 10, threads: [10])))
    }

    @Test("already traced: the tracer is named by pid and comm, only the threads to be seized count, no advice to run as root")
    func alreadyTraced() {
        let v = Self.view(
            tasks: [10: Self.task(10), 11: Self.task(10, tracer: 77)], threads: [10: [10, 11]], comms: [77: "str\u{1B}[2Jace"])
        let obstacle = AttachObstacle.find(pids: [10], threads: nil, view: v)
        #expect(obstacle == .alreadyTraced(pid: 10, tid: 11, tracer: 77, tracerComm: "str\u{1B}[2Jace"))
        let text = obstacle?.description ?? ""
        #expect(text.contains("its thread 11 is already traced by process 77 (str\u{1B}[2Jace)"))
        #expect(!text.contains("root"))
        #expect(TerminalText.escaped(text).contains("(str\\x1b[2Jace)"), "printed escaped, as every CLI error line is")
        // With --threads 10 the traced thread 11 is not touched: no obstacle.
        #expect(AttachObstacle.find(pids: [10], threads: [10], view: v) == nil)
    }

    @Test("a refused seize is explained from /proc: another tracer, or EPERM as root (no advice to run as root) or not")
    func seizeRefused() {
        let traced = Self.view(tasks: [10: Self.task(10, tracer: 77)], threads: [10: [10]], comms: [77: "gdb"])
        #expect(
            AttachObstacle.seizeRefused(pid: 10, tid: 10, errno: 1, view: traced) == .alreadyTraced(pid: 10, tid: 10, tracer: 77, tracerComm: "gdb"))
        let plain = Self.view(tasks: [10: Self.task(10)], threads: [10: [10]], root: true, scope: 3)
        let asRoot = AttachObstacle.seizeRefused(pid: 10, tid: 10, errno: 1, view: plain).description
        #expect(asRoot.contains("ptrace_scope is 3") && !asRoot.contains("run the recorder as root"))
        let user = Self.view(tasks: [10: Self.task(10)], threads: [10: [10]], root: false, scope: 1)
        #expect(AttachObstacle.seizeRefused(pid: 10, tid: 10, errno: 1, view: user).description.contains("run the recorder as root"))
        #expect(AttachObstacle.seizeRefused(pid: 10, tid: 10, errno: 3, view: Self.view(tasks: [:], threads: [:])) == .noSuchProcess(pid: 10))
    }
}
