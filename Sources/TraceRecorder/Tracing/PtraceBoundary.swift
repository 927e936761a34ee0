import CSyscallShim

#if canImport(Glibc)
    import Glibc
#endif

/// One ptrace stop (or end) reported by waitpid, already classified.
package enum TraceeStop: Equatable, Sendable {
    /// syscall-enter or syscall-exit stop (PTRACE_O_TRACESYSGOOD).
    case syscall(tid: Int32)
    /// seccomp RET_TRACE stop (PTRACE_EVENT_SECCOMP): a filtered syscall is about to run.
    case seccomp(tid: Int32)
    /// A new thread or process (PTRACE_EVENT_CLONE/FORK/VFORK); `child` from PTRACE_GETEVENTMSG.
    case newTask(tid: Int32, child: Int32, isThread: Bool)
    /// PTRACE_EVENT_EXEC; `formerTid` is the thread that called execve.
    case exec(tid: Int32, formerTid: Int32)
    /// PTRACE_EVENT_STOP: group-stop, PTRACE_INTERRUPT, or a new task's first stop.
    case eventStop(tid: Int32, signal: Int32)
    /// A signal is about to be delivered; it must be re-injected.
    case signal(tid: Int32, signal: Int32)
    case exited(tid: Int32, status: Int32)
    case killed(tid: Int32, signal: Int32)
}

/// What PTRACE_GET_SYSCALL_INFO says about the current stop.
package enum SyscallInfo: Equatable, Sendable {
    case entry(number: Int, args: [UInt64])
    case exit(result: Int64)
    case seccomp(number: Int, args: [UInt64])
    case none
}

extension SyscallInfo {
    /// From PTRACE_GET_SYSCALL_INFO's fields (op 1 entry, 2 exit, 3 seccomp). The number is the tracee's to
    /// choose: `syscall(-1)` arrives as 2^64 - 1, so it is taken as a bit pattern (a number no table knows),
    /// never converted with a trap.
    package init(op: UInt8, nr: UInt64, args: [UInt64], rval: Int64) {
        switch op {
        case 1: self = .entry(number: Int(truncatingIfNeeded: nr), args: args)
        case 2: self = .exit(result: rval)
        case 3: self = .seccomp(number: Int(truncatingIfNeeded: nr), args: args)
        default: self = .none
        }
    }
}

/// How to restart a stopped tracee.
package enum ResumeMode: Sendable {
    /// PTRACE_SYSCALL: stop at the next syscall entry/exit.
    case syscall
    /// PTRACE_CONT: run until a seccomp stop, event or signal.
    case cont
}

/// The one boundary between the tracer's state machine and the kernel (swap in a scripted fake in tests).
package protocol PtraceBoundary: AnyObject {
    /// PTRACE_SEIZE with options; returns 0 or errno.
    func seize(_ tid: Int32, options: Int) -> Int32
    func interrupt(_ tid: Int32)
    /// Blocks for the next stop of any tracee; nil on EINTR (a signal to the recorder) or when none are left.
    func wait() -> TraceeStop?
    func syscallInfo(_ tid: Int32) -> SyscallInfo
    func resume(_ tid: Int32, _ mode: ResumeMode, signal: Int32)
    func detach(_ tid: Int32, signal: Int32) -> Int32
    /// Thread-group id of `tid` (/proc/TID/status).
    func threadGroup(of tid: Int32) -> Int32
    /// CLOCK_MONOTONIC ns.
    func now() -> UInt64
}

/// ptrace option bits (linux/ptrace.h).
package enum PtraceOptions {
    package static let traceSysGood = 0x01
    package static let traceFork = 0x02
    package static let traceVFork = 0x04
    package static let traceClone = 0x08
    package static let traceExec = 0x10
    package static let traceSeccomp = 0x80
    package static let exitKill = 0x10_0000
    package static let follow = traceSysGood | traceFork | traceVFork | traceClone | traceExec
}

/// The real kernel interface, through the C shim.
package final class LinuxPtrace: PtraceBoundary {
    // Request numbers from <sys/ptrace.h>.
    static let cont: Int32 = 7, detachRequest: Int32 = 17, syscallRequest: Int32 = 24
    static let getEventMsg: Int32 = 0x4201, seizeRequest: Int32 = 0x4206, interruptRequest: Int32 = 0x4207

    package init() {}

    package func seize(_ tid: Int32, options: Int) -> Int32 {
        vft_ptrace(Self.seizeRequest, tid, 0, UInt(options)) == 0 ? 0 : errno
    }

    package func interrupt(_ tid: Int32) { _ = vft_ptrace(Self.interruptRequest, tid, 0, 0) }

    package func wait() -> TraceeStop? {
        var status: Int32 = 0
        let tid = waitpid(-1, &status, Int32(bitPattern: 0x4000_0000))  // __WALL
        guard tid > 0 else { return nil }
        if vft_wifexited(status) != 0 { return .exited(tid: tid, status: vft_wexitstatus(status)) }
        if vft_wifsignaled(status) != 0 { return .killed(tid: tid, signal: vft_wtermsig(status)) }
        let sig = vft_wstopsig(status)
        let event = vft_ptrace_event(status)
        if sig == (SIGTRAP | 0x80) { return .syscall(tid: tid) }
        switch event {
        case 1, 2, 3:  // FORK, VFORK, CLONE
            var msg: UInt = 0
            _ = vft_ptrace(Self.getEventMsg, tid, 0, UInt(bitPattern: withUnsafeMutablePointer(to: &msg) { Int(bitPattern: $0) }))
            let child = Int32(truncatingIfNeeded: msg)
            return .newTask(tid: tid, child: child, isThread: event == 3 && threadGroup(of: child) == threadGroup(of: tid))
        case 4:  // EXEC
            var msg: UInt = 0
            _ = vft_ptrace(Self.getEventMsg, tid, 0, UInt(bitPattern: withUnsafeMutablePointer(to: &msg) { Int(bitPattern: $0) }))
            return .exec(tid: tid, formerTid: Int32(truncatingIfNeeded: msg))
        case 7:  // SECCOMP
            return .seccomp(tid: tid)
        case 128:  // STOP
            return .eventStop(tid: tid, signal: sig)
        default:
            if event != 0 { return .eventStop(tid: tid, signal: 0) }
            return .signal(tid: tid, signal: sig)
        }
    }

    package func syscallInfo(_ tid: Int32) -> SyscallInfo {
        var info = vft_syscall_info()
        guard vft_get_syscall_info(tid, &info) > 0 else { return .none }
        switch info.op {
        case 1:
            let a = info.entry.args
            return SyscallInfo(op: 1, nr: info.entry.nr, args: [a.0, a.1, a.2, a.3, a.4, a.5], rval: 0)
        case 2:
            return SyscallInfo(op: 2, nr: 0, args: [], rval: info.exit.rval)
        case 3:
            let a = info.seccomp.args
            return SyscallInfo(op: 3, nr: info.seccomp.nr, args: [a.0, a.1, a.2, a.3, a.4, a.5], rval: 0)
        default:
            return .none
        }
    }

    package func resume(_ tid: Int32, _ mode: ResumeMode, signal: Int32) {
        _ = vft_ptrace(mode == .syscall ? Self.syscallRequest : Self.cont, tid, 0, UInt(signal))
    }

    package func detach(_ tid: Int32, signal: Int32) -> Int32 {
        vft_ptrace(Self.detachRequest, tid, 0, UInt(signal)) == 0 ? 0 : errno
    }

    package func threadGroup(of tid: Int32) -> Int32 {
        ProcFS.status(pid: tid)?.tgid ?? tid
    }

    package func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

extension Substring {
    /// Without leading and trailing blanks.
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
