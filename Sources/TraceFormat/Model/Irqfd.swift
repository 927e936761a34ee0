/// KVM_IRQFD: binds an eventfd to a guest interrupt line (gsi), or unbinds it (DEASSIGN flag 1).
public struct Irqfd: Sendable, Hashable {
    public var vmFd: Int32
    public var fd: Int32
    public var gsi: UInt32
    public var flags: UInt32
    public var resampleFd: Int32

    public init(vmFd: Int32, fd: Int32, gsi: UInt32, flags: UInt32 = 0, resampleFd: Int32 = -1) {
        self.vmFd = vmFd
        self.fd = fd
        self.gsi = gsi
        self.flags = flags
        self.resampleFd = resampleFd
    }
}
