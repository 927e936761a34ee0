/// A non-VFIO ioctl kept for context (KVM_CREATE_VM, KVM_RUN, KVM_CREATE_VCPU, ...).
public struct GenericIoctl: Sendable, Hashable {
    public var fd: Int32
    public var target: FdKind
    public var request: UInt32
    /// The raw third argument (a pointer or a value).
    public var argument: UInt64

    public init(fd: Int32, target: FdKind, request: UInt32, argument: UInt64 = 0) {
        self.fd = fd
        self.target = target
        self.request = request
        self.argument = argument
    }
}
