/// Names of the ioctl requests vfiotrace knows, resolved with the fd's role because VFIO reuses
/// numbers across container, group and device fds (0x3b71 is IOMMU_MAP_DMA on a container and
/// DEVICE_PCI_HOT_RESET on a device).
public enum IoctlNames {
    /// VFIO ioctl type byte (';').
    public static let vfioType: UInt32 = 0x3B
    public static let kvmType: UInt32 = 0xAE

    /// True for any request with the VFIO type byte.
    public static func isVFIO(_ request: UInt32) -> Bool { (request >> 8) & 0xFF == vfioType }
    public static func isKVM(_ request: UInt32) -> Bool { (request >> 8) & 0xFF == kvmType }

    private static let common: [UInt32: String] = [
        0x3B64: "VFIO_GET_API_VERSION", 0x3B65: "VFIO_CHECK_EXTENSION", 0x3B66: "VFIO_SET_IOMMU",
    ]
    private static let group: [UInt32: String] = [
        0x3B67: "VFIO_GROUP_GET_STATUS", 0x3B68: "VFIO_GROUP_SET_CONTAINER", 0x3B69: "VFIO_GROUP_UNSET_CONTAINER",
        0x3B6A: "VFIO_GROUP_GET_DEVICE_FD",
    ]
    private static let device: [UInt32: String] = [
        0x3B6B: "VFIO_DEVICE_GET_INFO", 0x3B6C: "VFIO_DEVICE_GET_REGION_INFO", 0x3B6D: "VFIO_DEVICE_GET_IRQ_INFO",
        0x3B6E: "VFIO_DEVICE_SET_IRQS", 0x3B6F: "VFIO_DEVICE_RESET", 0x3B70: "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO",
        0x3B71: "VFIO_DEVICE_PCI_HOT_RESET", 0x3B72: "VFIO_DEVICE_QUERY_GFX_PLANE", 0x3B73: "VFIO_DEVICE_GET_GFX_DMABUF",
        0x3B74: "VFIO_DEVICE_IOEVENTFD", 0x3B75: "VFIO_DEVICE_FEATURE", 0x3B76: "VFIO_DEVICE_BIND_IOMMUFD",
        0x3B77: "VFIO_DEVICE_ATTACH_IOMMUFD_PT", 0x3B78: "VFIO_DEVICE_DETACH_IOMMUFD_PT",
    ]
    private static let container: [UInt32: String] = [
        0x3B70: "VFIO_IOMMU_GET_INFO", 0x3B71: "VFIO_IOMMU_MAP_DMA", 0x3B72: "VFIO_IOMMU_UNMAP_DMA",
        0x3B73: "VFIO_IOMMU_ENABLE", 0x3B74: "VFIO_IOMMU_DISABLE", 0x3B75: "VFIO_IOMMU_DIRTY_PAGES",
    ]
    private static let migrationData: [UInt32: String] = [0x3B79: "VFIO_MIG_GET_PRECOPY_INFO"]
    private static let kvm: [UInt32: String] = [
        0xAE00: "KVM_GET_API_VERSION", 0xAE01: "KVM_CREATE_VM", 0xAE41: "KVM_CREATE_VCPU", 0xAE80: "KVM_RUN",
        0x4020AE46: "KVM_SET_USER_MEMORY_REGION", 0x40A0AE49: "KVM_SET_USER_MEMORY_REGION2", 0x4020AE76: "KVM_IRQFD",
        0x4040AE79: "KVM_IOEVENTFD",
    ]

    /// The request's name for an fd of role `target`; a hex fallback when unknown.
    public static func name(request: UInt32, target: FdKind) -> String {
        let table: [UInt32: String]
        switch target {
        case .vfioContainer: table = container
        case .vfioGroup: table = group
        case .vfioDevice: table = device
        case .migrationData: table = migrationData
        default: table = [:]
        }
        if let n = table[request] ?? common[request] ?? kvm[request] { return n }
        if isVFIO(request) {
            // Unknown role: say so rather than guess between the aliases.
            let all = [container[request], device[request], group[request], migrationData[request]].compactMap { $0 }
            if !all.isEmpty { return all.joined(separator: "|") }
        }
        return "0x" + String(request, radix: 16)
    }
}
