public import TraceFormat

/// What every importer offers the command line: strict or lenient handling of malformed lines, a sink
/// for the lines it skips, and one streaming pass from a log to a trace file.
///
/// A line is malformed when it cannot be parsed, when a number in it is out of range (a timestamp past
/// 2^64 ns, an infinite duration, a region whose start is above its end, …), when it is longer than
/// 1 MiB, or when a bound on pending state would be exceeded; it is then skipped with an `ImportProblem`
/// naming its line, or, with `strict`, the import stops there and throws that problem.
public protocol LogImporter {
    /// Reject the whole input at the first malformed line instead of skipping it.
    var strict: Bool { get set }
    /// Told about each skipped line (lenient mode).
    var warn: (ImportProblem) -> Void { get set }
    /// Reads `source`, writes the trace `output`; returns the number of events written. Throws an
    /// `ImportProblem` for an unreadable input or (with `strict`) a malformed line, a `TraceError` when the
    /// output cannot be written; never traps on any input.
    func run(_ source: LogSource, output: String) throws -> Int
}

extension LogImporter {
    /// Reads the file `input`, writes `output`; returns the number of events written.
    @discardableResult
    public func run(input: String, output: String) throws -> Int { try run(.file(input), output: output) }

    /// Skips the line (telling `warn`), or throws its problem under `strict`.
    func reject(_ problem: ImportProblem) throws {
        if strict { throw problem }
        warn(problem)
    }

    /// Rejects a line longer than `LogLines.maxLineBytes` without reading it.
    func rejectTooLong(_ source: LogSource, line: Int) throws {
        try reject(ImportProblem(path: source.name, line: line, message: "line longer than \(LogLines.maxLineBytes) bytes"))
    }
}

extension FtraceImporter: LogImporter {}
extension JSONLImporter: LogImporter {}
extension QEMUTraceImporter: LogImporter {}
extension StraceImporter: LogImporter {}

/// The log formats `vfiotrace import` reads, for callers that choose one at run time (a fuzz driver).
public enum LogFormat: String, CaseIterable, Sendable {
    case strace
    case qemuTrace = "qemu-trace"
    case ftrace
    case jsonl

    /// This format's importer; `clock` is the pair an ftrace import takes (the others ignore it).
    public func importer(clock: ClockSample = ClockSample(monotonicNs: 0, realtimeNs: 0)) -> any LogImporter {
        switch self {
        case .strace: StraceImporter()
        case .qemuTrace: QEMUTraceImporter()
        case .ftrace: FtraceImporter(clock: clock)
        case .jsonl: JSONLImporter()
        }
    }

    /// Imports `source` into `output` without throwing: whatever the input holds, the result says what was
    /// written, which lines were skipped and why, and what stopped the import if something did.
    public func importLog(
        _ source: LogSource, output: String, strict: Bool = false, clock: ClockSample = ClockSample(monotonicNs: 0, realtimeNs: 0)
    ) -> ImportResult {
        var result = ImportResult()
        var importer = importer(clock: clock)
        importer.strict = strict
        importer.warn = { problem in
            result.skippedLines += 1
            if result.problems.count < ImportResult.keptProblems { result.problems.append(problem) }
        }
        do {
            let written = try importer.run(source, output: output)
            result.eventsWritten = written
        } catch {
            result.failure = error
        }
        return result
    }
}

/// What `LogFormat.importLog` did.
public struct ImportResult {
    /// Problems kept in `problems` at most (all are counted in `skippedLines`).
    public static let keptProblems = 1000
    public var eventsWritten = 0
    /// Lines skipped as malformed (lenient mode).
    public var skippedLines = 0
    /// The first `keptProblems` skipped lines, each with its line number and why.
    public var problems: [ImportProblem] = []
    /// What stopped the import: an `ImportProblem` (unreadable input, or a malformed line under `strict`)
    /// or a `TraceError` (the output could not be written); nil when it completed.
    public var failure: (any Error)?

    public init() {}
}
