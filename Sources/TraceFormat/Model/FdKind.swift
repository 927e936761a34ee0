/// What an fd refers to, as the recorder's fd table learned it. Part of format v1.
public enum FdKind: UInt8, Sendable, CaseIterable, Codable {
    case unknown = 0
    case vfioContainer = 1
    case vfioGroup = 2
    case vfioDevice = 3
    case iommufd = 4
    case kvmSystem = 5
    case kvmVM = 6
    case kvmVCPU = 7
    case eventfd = 8
    case migrationData = 9
    case file = 10

    public var name: String {
        switch self {
        case .unknown: "unknown"
        case .vfioContainer: "vfio-container"
        case .vfioGroup: "vfio-group"
        case .vfioDevice: "vfio-device"
        case .iommufd: "iommufd"
        case .kvmSystem: "kvm"
        case .kvmVM: "kvm-vm"
        case .kvmVCPU: "kvm-vcpu"
        case .eventfd: "eventfd"
        case .migrationData: "mig-data"
        case .file: "file"
        }
    }

    /// The role of an fd from its path: an open(2) argument, a `/proc/PID/fd` link or an strace `-y` annotation.
    public static func classify(path: String) -> FdKind {
        if path == "/dev/vfio/vfio" { return .vfioContainer }
        if path.hasPrefix("/dev/vfio/devices/") { return .vfioDevice }
        if path.hasPrefix("/dev/vfio/"), UInt32(path.dropFirst("/dev/vfio/".count)) != nil { return .vfioGroup }
        if path.hasPrefix("/dev/vfio/noiommu-") { return .vfioGroup }
        if path == "/dev/iommu" { return .iommufd }
        if path == "/dev/kvm" { return .kvmSystem }
        if path == "anon_inode:kvm-vm" { return .kvmVM }
        if path.hasPrefix("anon_inode:kvm-vcpu") { return .kvmVCPU }
        if path == "anon_inode:[eventfd]" { return .eventfd }
        if path == "anon_inode:[vfio-device]" || path.hasPrefix("anon_inode:vfio") { return .vfioDevice }
        return .unknown
    }
}
