/// A user-facing failure: one line saying what and where, and the exit code to leave with.
struct CommandFailure: Error {
    var message: String
    /// 1 = findings / damaged input, 2 = unreadable input or usage error.
    var exitCode: Int32

    init(_ message: String, exitCode: Int32 = 2) {
        self.message = message
        self.exitCode = exitCode
    }
}
