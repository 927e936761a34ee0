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
}
