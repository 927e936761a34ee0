import TraceAnalysis

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

/// The exit status of a verdict, shared by analyze, report and compare's callers (README, "Exit status").
func verdictExitCode(_ r: AnalysisResult) -> Int32 { r.passed ? 0 : r.checkedNothing ? 3 : 1 }

/// The exit statuses of analyze and report, for their help.
let verdictExitCodes = """
    0 pass; 1 a trap gap, an error finding or a threshold failed; 2 unreadable input or usage error \
    (a damaged trace is read as far as it is intact and fails with 1); 3 nothing checked: no VFIO device \
    appears in any file (a wrong pid or file must not pass a CI gate).
    """
