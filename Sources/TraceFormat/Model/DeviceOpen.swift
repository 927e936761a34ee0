/// A VFIO device fd came into being: from VFIO_GROUP_GET_DEVICE_FD (group fd + name) or a cdev open.
public struct DeviceOpen: Sendable, Hashable {
    /// The new device fd (also the syscall result on success).
    public var fd: Int32
    /// The group fd the name was looked up on, or -1 for a cdev (/dev/vfio/devices/vfioN).
    public var groupFd: Int32
    /// Device name, e.g. "0000:00:03.0" or an mdev UUID; for a cdev, its path.
    public var device: String

    public init(fd: Int32, groupFd: Int32, device: String) {
        self.fd = fd
        self.groupFd = groupFd
        self.device = device
    }
}
