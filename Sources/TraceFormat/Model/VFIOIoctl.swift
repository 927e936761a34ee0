/// A VFIO ioctl on a known fd: the request, the fd's role, and the argument bytes read back at exit.
public struct VFIOIoctl: Sendable, Hashable {
    public var fd: Int32
    /// The fd's role when the call was made; VFIO reuses request numbers across roles.
    public var target: FdKind
    /// Device name for device fds, empty otherwise.
    public var device: String
    public var request: UInt32
    /// Argument struct bytes as read from the tracee after the call (at most `maxArgumentBytes`).
    public var argument: [UInt8]

    /// The recorder never stores more than this many argument bytes for one call.
    public static let maxArgumentBytes = 4096

    public init(fd: Int32, target: FdKind, device: String = "", request: UInt32, argument: [UInt8] = []) {
        self.fd = fd
        self.target = target
        self.device = device
        self.request = request
        self.argument = argument
    }
}
