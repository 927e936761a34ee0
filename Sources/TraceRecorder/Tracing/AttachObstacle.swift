import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// What /proc tells about the processes and threads the recorder is asked to attach to (a seam for tests:
/// `.live` reads the real /proc).
package struct ProcessView {
    /// /proc/PID/status, or /proc/PID/task/TID/status; nil when there is no such task.
    package var status: (_ pid: Int32, _ tid: Int32?) -> ProcStatus?
    package var threads: (_ pid: Int32) -> [Int32]
    package var comm: (_ pid: Int32) -> String?
    /// /proc/sys/kernel/yama/ptrace_scope, nil without Yama.
    package var ptraceScope: () -> Int?
    package var isRoot: () -> Bool
    package var ownPid: () -> Int32

    package static var live: ProcessView {
        ProcessView(
            status: { ProcFS.status(pid: $0, tid: $1) }, threads: { ProcFS.threads(of: $0) }, comm: { ProcFS.comm(of: $0) },
            ptraceScope: { ProcFS.read("/proc/sys/kernel/yama/ptrace_scope", limit: 16).flatMap { Int($0.split(separator: "\n").first ?? "") } },
            isRoot: { geteuid() == 0 }, ownPid: { getpid() })
    }
}

/// Why `record -p` cannot record what it was asked to: found from /proc before anything is written, or from a
/// refused PTRACE_SEIZE. Each prints as one line saying what, why and what to do. (The tracer's comm is the
/// tracer's own choice: it is printed through `TerminalText.escaped`, as every CLI error line is.)
package enum AttachObstacle: Error, Equatable, CustomStringConvertible {
    /// A process and its threads, for messages that list them.
    package struct ThreadList: Equatable, Sendable {
        package var pid: Int32
        package var threads: [Int32]
    }

    case noSuchProcess(pid: Int32)
    /// A zombie: exited, not yet reaped.
    case exited(pid: Int32)
    case kernelThread(pid: Int32)
    /// `-p` named a thread that is not its process's leader.
    case threadNotProcess(tid: Int32, process: Int32)
    case recorderItself(pid: Int32)
    case alreadyTraced(pid: Int32, tid: Int32, tracer: Int32, tracerComm: String?)
    case notPermitted(pid: Int32, tid: Int32, errno: Int32, asRoot: Bool, ptraceScope: Int?)
    /// --threads names tids that are no thread of the recorded processes (`elsewhere`: tid -> its own process).
    case unknownThreads(tids: [Int32], recorded: [ThreadList], elsewhere: [Int32: Int32])
    /// --threads names none of this process's threads.
    case noNamedThread(ThreadList)

    /// Threads listed in a message at most.
    static let listed = 8

    /// The first checks that fail, over all `pids` and the thread filter; nil when attaching can go ahead.
    package static func find(pids: [Int32], threads named: Set<Int32>?, view: ProcessView = .live) -> AttachObstacle? {
        var lists: [ThreadList] = []
        for pid in pids {
            if let obstacle = process(pid, view: view) { return obstacle }
            lists.append(ThreadList(pid: pid, threads: view.threads(pid)))
        }
        if let named {
            let known = Set(lists.flatMap(\.threads))
            let unknown = named.subtracting(known).sorted()
            if !unknown.isEmpty {
                var elsewhere: [Int32: Int32] = [:]
                for tid in unknown where tid > 0 {
                    if let tgid = view.status(tid, nil)?.tgid { elsewhere[tid] = tgid }
                }
                return .unknownThreads(tids: unknown, recorded: lists, elsewhere: elsewhere)
            }
            if let idle = lists.first(where: { !$0.threads.contains(where: named.contains) }) { return .noNamedThread(idle) }
        }
        for list in lists {
            for tid in list.threads where named?.contains(tid) ?? true {
                if let tracer = view.status(list.pid, tid)?.tracerPid, tracer != 0 {
                    return .alreadyTraced(pid: list.pid, tid: tid, tracer: tracer, tracerComm: view.comm(tracer))
                }
            }
        }
        return nil
    }

    /// Whether `pid` is a live user process other than ourselves.
    static func process(_ pid: Int32, view: ProcessView) -> AttachObstacle? {
        guard pid > 0, let status = view.status(pid, nil) else { return .noSuchProcess(pid: pid) }
        if pid == view.ownPid() { return .recorderItself(pid: pid) }
        if status.kernelThread { return .kernelThread(pid: pid) }
        if let tgid = status.tgid, tgid != pid { return .threadNotProcess(tid: pid, process: tgid) }
        // A leader that called pthread_exit is a zombie too while its other threads run on.
        if status.state == "Z" || status.state == "X", view.threads(pid).count <= 1 { return .exited(pid: pid) }
        return nil
    }

    /// What a refused PTRACE_SEIZE of `tid` (a thread of `pid`) means, looked up again in /proc.
    package static func seizeRefused(pid: Int32, tid: Int32, errno err: Int32, view: ProcessView = .live) -> AttachObstacle {
        if err == ESRCH { return process(pid, view: view) ?? .noSuchProcess(pid: pid) }
        if let tracer = view.status(pid, tid)?.tracerPid, tracer != 0 {
            return .alreadyTraced(pid: pid, tid: tid, tracer: tracer, tracerComm: view.comm(tracer))
        }
        if let obstacle = process(pid, view: view) { return obstacle }
        return .notPermitted(pid: pid, tid: tid, errno: err, asRoot: view.isRoot(), ptraceScope: view.ptraceScope())
    }

    package var description: String {
        switch self {
        case .noSuchProcess(let pid):
            return "cannot record process \(pid): there is no such process (it never existed or has exited); "
                + "give the pid of a running process, e.g. -p $(pidof qemu-system-x86_64)"
        case .exited(let pid):
            return "cannot record process \(pid): it has exited (a zombie its parent has not reaped yet); there is nothing left to record"
        case .kernelThread(let pid):
            return "cannot record process \(pid): it is a kernel thread, which makes no system calls to record; give the pid of a user-space VMM"
        case .threadNotProcess(let tid, let process):
            return "cannot record \(tid) as a process: it is a thread of process \(process); "
                + "give -p \(process), with --threads \(tid) to record only this thread"
        case .recorderItself(let pid):
            return "cannot record process \(pid): it is this recorder itself; give the VMM's pid"
        case .alreadyTraced(let pid, let tid, let tracer, let comm):
            let who = tid == pid ? "it" : "its thread \(tid)"
            let name = comm.map { " (\($0))" } ?? ""
            return "cannot record process \(pid): \(who) is already traced by process \(tracer)\(name), and a thread can have only one tracer; "
                + "stop that tracer or detach it from \(pid) (Ctrl-C detaches strace and `vfiotrace record`), then retry"
        case .notPermitted(let pid, let tid, let err, let asRoot, let scope):
            let thread = tid == pid ? "" : " (thread \(tid))"
            guard err == EPERM else {
                return "cannot record process \(pid)\(thread): PTRACE_SEIZE failed with \(ErrnoNames.name(err))"
            }
            if asRoot {
                let why =
                    scope == 3
                    ? "kernel.yama.ptrace_scope is 3, which forbids attaching to any process until the next reboot"
                    : "a security module (SELinux, AppArmor, Landlock) or a seccomp filter denies ptrace here; see the audit log"
                return "cannot record process \(pid)\(thread): the kernel refused to trace it (EPERM) although the recorder runs as root: \(why); "
                    + "record the VMM in launch mode (-- COMMAND) where attaching is forbidden"
            }
            let why =
                scope.map { $0 >= 1 ? "kernel.yama.ptrace_scope is \($0)" : "it belongs to another user" } ?? "it belongs to another user"
            return "cannot record process \(pid)\(thread): not permitted (EPERM): \(why); run the recorder as root (or with CAP_SYS_PTRACE)"
        case .unknownThreads(let tids, let recorded, let elsewhere):
            let which = tids.count == 1 ? "thread \(tids[0]) is" : "threads \(Self.list(tids)) are"
            let other = tids.compactMap { tid in elsewhere[tid].map { "\(tid) is a thread of process \($0), which is not being recorded" } }
            return "--threads: \(which) not a thread of \(recorded.map { "process \($0.pid)" }.joined(separator: " or ")); "
                + (other.isEmpty ? "" : other.joined(separator: "; ") + "; ")
                + recorded.map(Self.describe).joined(separator: "; ") + "; name threads of the process being recorded"
        case .noNamedThread(let list):
            return "--threads names no thread of process \(list.pid), so nothing of it would be recorded; \(Self.describe(list)); "
                + "name one of them, or leave -p \(list.pid) out"
        }
    }

    /// "process 42 has 12 threads: 42, 43, … (ls /proc/42/task lists them all)".
    static func describe(_ process: ThreadList) -> String {
        let n = process.threads.count
        if n == 0 { return "process \(process.pid) has no threads left" }
        let more = n > listed ? " (ls /proc/\(process.pid)/task lists them all)" : ""
        return "process \(process.pid) has \(n) thread\(n == 1 ? "" : "s"): \(list(process.threads))\(more)"
    }

    /// The first few numbers, comma-separated, "…" when there are more.
    static func list(_ tids: [Int32]) -> String {
        tids.prefix(listed).map(String.init).joined(separator: ", ") + (tids.count > listed ? ", …" : "")
    }
}
