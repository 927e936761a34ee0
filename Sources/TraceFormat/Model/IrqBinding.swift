/// VFIO_DEVICE_SET_IRQS: binds (or unbinds) device interrupt vectors to eventfds.
public struct IrqBinding: Sendable, Hashable {
    public var fd: Int32
    public var device: String
    /// IRQ index (vfio-pci: INTX 0, MSI 1, MSIX 2, ERR 3, REQ 4).
    public var index: UInt32
    public var start: UInt32
    public var count: UInt32
    /// VFIO_IRQ_SET_* flags (DATA_EVENTFD = 4, ACTION_TRIGGER = 0x20, ...).
    public var flags: UInt32
    /// With DATA_EVENTFD: one fd per vector starting at `start` (-1 unbinds). Empty otherwise.
    public var eventfds: [Int32]

    public init(fd: Int32, device: String, index: UInt32, start: UInt32, count: UInt32, flags: UInt32, eventfds: [Int32] = []) {
        self.fd = fd
        self.device = device
        self.index = index
        self.start = start
        self.count = count
        self.flags = flags
        self.eventfds = eventfds
    }

    public static let dataNone: UInt32 = 1
    public static let dataBool: UInt32 = 2
    public static let dataEventfd: UInt32 = 4
    public static let actionMask: UInt32 = 8
    public static let actionUnmask: UInt32 = 0x10
    public static let actionTrigger: UInt32 = 0x20
}
