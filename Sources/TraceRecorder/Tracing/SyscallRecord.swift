/// One completed system call as the tracer saw it, ready for decoding.
package struct SyscallRecord: Sendable {
    /// Thread-group id (the process).
    package var pid: Int32
    package var tid: Int32
    package var syscall: Syscall
    package var number: Int
    package var args: [UInt64]
    /// Return value, or -errno.
    package var result: Int64
    package var entryNs: UInt64
    package var exitNs: UInt64

    package init(pid: Int32, tid: Int32, syscall: Syscall, number: Int, args: [UInt64], result: Int64, entryNs: UInt64, exitNs: UInt64) {
        self.pid = pid
        self.tid = tid
        self.syscall = syscall
        self.number = number
        self.args = args + Array(repeating: 0, count: max(0, 6 - args.count))
        self.result = result
        self.entryNs = entryNs
        self.exitNs = exitNs
    }

    package var failed: Bool { result < 0 && result >= -4095 }
}
