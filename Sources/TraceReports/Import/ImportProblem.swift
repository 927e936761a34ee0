import TraceFormat

/// A malformed input line, with where it is; skipped with a warning, or fatal under --strict. Line 0 stands
/// for the whole input (it could not be read). Input text quoted in `message` is already escaped for terminals.
public struct ImportProblem: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var line: Int
    public var message: String
    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }
    public var description: String { "\(TerminalText.escaped(path)):\(line): \(message)" }
}
