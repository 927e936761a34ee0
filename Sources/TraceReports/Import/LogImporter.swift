/// What every importer offers the command line: strict or lenient handling of malformed lines, a sink
/// for the lines it skips, and one pass from a log file to a trace file.
public protocol LogImporter {
    /// Reject the whole input at the first malformed line instead of skipping it.
    var strict: Bool { get set }
    /// Told about each skipped line (lenient mode).
    var warn: (ImportProblem) -> Void { get set }
    /// Reads `input`, writes `output`; returns the number of events written.
    func run(input: String, output: String) throws -> Int
}

extension FtraceImporter: LogImporter {}
extension JSONLImporter: LogImporter {}
extension QEMUTraceImporter: LogImporter {}
extension StraceImporter: LogImporter {}
