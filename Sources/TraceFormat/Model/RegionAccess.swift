/// pread/pwrite (or their vector forms) on a device fd: the trapped access path.
public struct RegionAccess: Sendable, Hashable {
    public enum Operation: UInt8, Sendable, Hashable, CaseIterable, Codable {
        case read = 0
        case write = 1
    }
    public var operation: Operation
    public var fd: Int32
    public var device: String
    /// Region index decoded from the file offset, or -1 if unknown.
    public var region: Int32
    /// Offset within the region.
    public var offset: UInt64
    public var length: UInt64
    /// The first up-to-8 bytes transferred, little-endian.
    public var value: UInt64

    public init(operation: Operation, fd: Int32, device: String, region: Int32, offset: UInt64, length: UInt64, value: UInt64 = 0) {
        self.operation = operation
        self.fd = fd
        self.device = device
        self.region = region
        self.offset = offset
        self.length = length
        self.value = value
    }
}
