/// The on-disk tag of each payload kind. Values are part of format v1 and never change.
public enum EventKind: UInt8, Sendable, CaseIterable, Codable {
    case vfioIoctl = 1
    case ioctl = 2
    case deviceOpen = 3
    case regionInfo = 4
    case irqBinding = 5
    case deviceState = 6
    case mapping = 7
    case memslot = 8
    case eventfd = 9
    case irqfd = 10
    case regionAccess = 11
    case fd = 12
    case process = 13
    case marker = 14
    case lost = 15

    /// Stable lowercase name used in dumps, JSON and stats.
    public var name: String {
        switch self {
        case .vfioIoctl: "vfio_ioctl"
        case .ioctl: "ioctl"
        case .deviceOpen: "device_open"
        case .regionInfo: "region_info"
        case .irqBinding: "irq_binding"
        case .deviceState: "device_state"
        case .mapping: "mapping"
        case .memslot: "memslot"
        case .eventfd: "eventfd"
        case .irqfd: "irqfd"
        case .regionAccess: "region_access"
        case .fd: "fd"
        case .process: "process"
        case .marker: "marker"
        case .lost: "lost"
        }
    }
}

extension EventKind {
    /// `init(rawValue:)`, inlined into the decoder's loop (the synthesized initializer is a call per event).
    @inline(__always)
    static func decoded(_ raw: UInt8) -> EventKind? {
        switch raw {
        case 1: .vfioIoctl
        case 2: .ioctl
        case 3: .deviceOpen
        case 4: .regionInfo
        case 5: .irqBinding
        case 6: .deviceState
        case 7: .mapping
        case 8: .memslot
        case 9: .eventfd
        case 10: .irqfd
        case 11: .regionAccess
        case 12: .fd
        case 13: .process
        case 14: .marker
        case 15: .lost
        default: nil
        }
    }
}
