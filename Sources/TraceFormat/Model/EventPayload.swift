/// The decoded content of an event; one case per `EventKind`.
public enum EventPayload: Sendable, Hashable {
    /// A VFIO ioctl kept with its argument bytes (decoded for display by `VFIOLayout`).
    case vfioIoctl(VFIOIoctl)
    /// A non-VFIO ioctl of interest (KVM_CREATE_VM, KVM_RUN, ...).
    case ioctl(GenericIoctl)
    /// A device fd obtained (VFIO_GROUP_GET_DEVICE_FD or a vfio cdev open).
    case deviceOpen(DeviceOpen)
    /// VFIO_DEVICE_GET_REGION_INFO with its capability chain.
    case regionInfo(RegionInfo)
    /// VFIO_DEVICE_SET_IRQS: device interrupts bound to eventfds.
    case irqBinding(IrqBinding)
    /// A migration device_state get or set (v1 region write or v2 DEVICE_FEATURE).
    case deviceState(DeviceStateChange)
    /// mmap / munmap / mremap, resolved to device + region where it touches a device.
    case mapping(MappingChange)
    /// KVM_SET_USER_MEMORY_REGION(2); size 0 deletes the slot.
    case memslot(Memslot)
    /// eventfd create / read / write with values.
    case eventfd(EventfdOp)
    /// KVM_IRQFD: an eventfd bound to a guest interrupt.
    case irqfd(Irqfd)
    /// pread/pwrite (and vector variants) on a device region.
    case regionAccess(RegionAccess)
    /// fd lifecycle: open, close, dup.
    case fd(FdChange)
    /// process / thread lifecycle.
    case process(ProcessChange)
    /// A free-form event, typically imported from a driver, the kernel or QEMU's trace log.
    case marker(Marker)
    /// The recorder had to drop events.
    case lost(LostEvents)

    public var kind: EventKind {
        switch self {
        case .vfioIoctl: .vfioIoctl
        case .ioctl: .ioctl
        case .deviceOpen: .deviceOpen
        case .regionInfo: .regionInfo
        case .irqBinding: .irqBinding
        case .deviceState: .deviceState
        case .mapping: .mapping
        case .memslot: .memslot
        case .eventfd: .eventfd
        case .irqfd: .irqfd
        case .regionAccess: .regionAccess
        case .fd: .fd
        case .process: .process
        case .marker: .marker
        case .lost: .lost
        }
    }
}
