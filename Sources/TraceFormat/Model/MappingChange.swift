/// mmap, munmap or mremap, with the device range it covers when the recorder could resolve one.
public struct MappingChange: Sendable, Hashable {
    public enum Operation: UInt8, Sendable, Hashable, CaseIterable, Codable {
        case mmap = 0
        case munmap = 1
        case mremap = 2
    }

    public var operation: Operation
    /// The fd mapped (mmap), or -1.
    public var fd: Int32
    /// Device name when the range belongs to a VFIO device mapping, else empty.
    public var device: String
    /// Region index, or -1 when not a device range.
    public var region: Int32
    /// Offset of the (first affected) byte within the region.
    public var regionOffset: UInt64
    /// User address: mmap result, munmap start, mremap old address.
    public var address: UInt64
    public var length: UInt64
    /// mremap: new address and length; 0 otherwise.
    public var newAddress: UInt64
    public var newLength: UInt64
    public var prot: UInt32
    /// mmap flags; `adoptedAtAttach` marks a mapping found in /proc/PID/maps when the recorder attached.
    public var flags: UInt32
    /// Set in `flags` (a bit mmap never uses) on mappings that existed before an attach.
    public static let adoptedAtAttach: UInt32 = 0x8000_0000
    /// mmap: the file offset argument.
    public var fileOffset: UInt64

    public init(
        operation: Operation, fd: Int32 = -1, device: String = "", region: Int32 = -1, regionOffset: UInt64 = 0,
        address: UInt64, length: UInt64, newAddress: UInt64 = 0, newLength: UInt64 = 0,
        prot: UInt32 = 0, flags: UInt32 = 0, fileOffset: UInt64 = 0
    ) {
        self.operation = operation
        self.fd = fd
        self.device = device
        self.region = region
        self.regionOffset = regionOffset
        self.address = address
        self.length = length
        self.newAddress = newAddress
        self.newLength = newLength
        self.prot = prot
        self.flags = flags
        self.fileOffset = fileOffset
    }
}
