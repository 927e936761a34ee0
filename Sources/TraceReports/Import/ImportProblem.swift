/// A malformed input line, with where it is; skipped with a warning, or fatal under --strict.
public struct ImportProblem: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var line: Int
    public var message: String
    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }
    public var description: String { "\(path):\(line): \(message)" }
}
