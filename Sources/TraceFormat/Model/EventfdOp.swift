/// eventfd creation, a read (consumes the counter) or a write (signals).
public struct EventfdOp: Sendable, Hashable {
    public enum Operation: UInt8, Sendable, Hashable, CaseIterable, Codable {
        case create = 0
        case read = 1
        case write = 2
    }
    public var operation: Operation
    public var fd: Int32
    /// create: initial value; read: the counter value read; write: the value added.
    public var value: UInt64
    /// create: EFD_* flags.
    public var flags: UInt32

    public init(operation: Operation, fd: Int32, value: UInt64 = 0, flags: UInt32 = 0) {
        self.operation = operation
        self.fd = fd
        self.value = value
        self.flags = flags
    }
}
