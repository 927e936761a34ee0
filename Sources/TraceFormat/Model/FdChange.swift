/// fd lifecycle as the fd table saw it: open (with path and role), close, dup.
public struct FdChange: Sendable, Hashable {
    public enum Operation: UInt8, Sendable, Hashable, CaseIterable, Codable {
        case open = 0
        case close = 1
        case dup = 2
    }
    public var operation: Operation
    public var fd: Int32
    /// dup: the source fd; otherwise -1.
    public var sourceFd: Int32
    public var kind: FdKind
    public var path: String

    public init(operation: Operation, fd: Int32, sourceFd: Int32 = -1, kind: FdKind, path: String = "") {
        self.operation = operation
        self.fd = fd
        self.sourceFd = sourceFd
        self.kind = kind
        self.path = path
    }
}
