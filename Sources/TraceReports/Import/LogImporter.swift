import TraceFormat

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

extension LogImporter {
    /// Writes an importer's events (in the order given) as a trace of source `import-FORMAT` with the clock
    /// pair that places them (docs/IMPORT.md); returns how many were written.
    static func writeTrace(
        _ events: [TraceEvent], to output: String, format: String, input: String, clock: ClockSample, pids: [Int32] = []
    ) throws -> Int {
        var header = TraceHeader.forThisHost(source: "import-\(format)", command: ["import", format, input])
        header.startClock = clock
        header.pids = pids
        let writer = try TraceWriter(path: output, header: header)
        for e in events { try writer.append(e) }
        try writer.close(closeClock: clock)
        return events.count
    }
}

extension FtraceImporter: LogImporter {}
extension JSONLImporter: LogImporter {}
extension QEMUTraceImporter: LogImporter {}
extension StraceImporter: LogImporter {}
