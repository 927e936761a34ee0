/// A migration device_state access: v1 (bitmask in the migration region) or v2 (DEVICE_FEATURE FSM state).
public struct DeviceStateChange: Sendable, Hashable {
    public enum MigrationProtocol: UInt8, Sendable, Hashable, CaseIterable, Codable {
        case v1 = 1
        case v2 = 2
    }
    public enum Operation: UInt8, Sendable, Hashable, CaseIterable, Codable {
        case set = 0
        case get = 1
    }

    public var fd: Int32
    public var device: String
    public var migrationProtocol: MigrationProtocol
    public var operation: Operation
    /// The state asked for (set) or 0 (get).
    public var requested: UInt32
    /// The state the device is in after the call, as far as the trace shows; for a failed set, the prior state is unknown and this equals `requested` only on success.
    public var resulting: UInt32
    /// v2: the data_fd returned for a new transfer session, or -1.
    public var dataFd: Int32

    public init(
        fd: Int32, device: String, migrationProtocol: MigrationProtocol, operation: Operation = .set,
        requested: UInt32, resulting: UInt32, dataFd: Int32 = -1
    ) {
        self.fd = fd
        self.device = device
        self.migrationProtocol = migrationProtocol
        self.operation = operation
        self.requested = requested
        self.resulting = resulting
        self.dataFd = dataFd
    }
}
