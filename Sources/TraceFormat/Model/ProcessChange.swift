/// Process and thread lifecycle in the traced tree.
public struct ProcessChange: Sendable, Hashable {
    public enum Operation: UInt8, Sendable, Hashable, CaseIterable, Codable {
        case attach = 0
        case spawn = 1
        case threadStart = 2
        case fork = 3
        case exec = 4
        case exit = 5
        case detach = 6
        case signal = 7
    }
    public var operation: Operation
    /// The new thread / child for threadStart and fork; the subject otherwise.
    public var target: Int32
    /// exit: the exit status, or 128 + the signal that killed it (as a shell reports it); signal: signal number.
    public var status: Int32
    /// exec / spawn: the command line.
    public var command: String

    public init(operation: Operation, target: Int32, status: Int32 = 0, command: String = "") {
        self.operation = operation
        self.target = target
        self.status = status
        self.command = command
    }
}
