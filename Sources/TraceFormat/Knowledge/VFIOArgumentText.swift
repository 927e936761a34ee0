/// Text form of a VFIO ioctl argument kept raw by the recorder: the structs of `<linux/vfio.h>` that
/// have no event of their own are decoded here by (fd role, request); anything else shows its bytes.
public enum VFIOArgumentText {
    public static func describe(_ ioctl: VFIOIoctl) -> String {
        structured(ioctl) ?? raw(ioctl.argument)
    }

    static func raw(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(64).map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined()
        return "<\(bytes.count) bytes: \(shown)\(bytes.count > 64 ? "..." : "")>"
    }

    // Flag names (include/uapi/linux/vfio.h).
    static let groupFlags: [(UInt32, String)] = [(1, "VIABLE"), (2, "CONTAINER_SET")]
    static let deviceFlags: [(UInt32, String)] = [
        (1 << 0, "RESET"), (1 << 1, "PCI"), (1 << 2, "PLATFORM"), (1 << 3, "AMBA"), (1 << 4, "CCW"), (1 << 5, "AP"),
        (1 << 6, "FSL_MC"), (1 << 7, "CAPS"), (1 << 8, "CDX"),
    ]
    static let irqFlags: [(UInt32, String)] = [(1, "EVENTFD"), (2, "MASKABLE"), (4, "AUTOMASKED"), (8, "NORESIZE")]
    static let dmaFlags: [(UInt32, String)] = [(1, "READ"), (2, "WRITE"), (4, "VADDR")]
    static let iommuInfoFlags: [(UInt32, String)] = [(1, "PGSIZES"), (2, "CAPS")]

    /// The decoded struct, or nil when the request is not one of these or the bytes are too short.
    static func structured(_ io: VFIOIoctl) -> String? {
        let b = io.argument
        func u32(_ at: Int) -> UInt32? {
            guard at + 4 <= b.count else { return nil }
            return (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << (8 * $1) }
        }
        func u64(_ at: Int) -> UInt64? {
            guard let lo = u32(at), let hi = u32(at + 4) else { return nil }
            return UInt64(hi) << 32 | UInt64(lo)
        }
        switch (io.target, io.request) {
        case (.vfioGroup, 0x3B67):  // VFIO_GROUP_GET_STATUS
            guard let flags = u32(4) else { return nil }
            return "{flags=" + Hex.flags(flags, groupFlags) + "}"
        case (.vfioGroup, 0x3B68):  // VFIO_GROUP_SET_CONTAINER: a pointer to the container fd
            guard let fd = u32(0) else { return nil }
            return "[\(Int32(bitPattern: fd))]"
        case (.vfioDevice, 0x3B6B):  // VFIO_DEVICE_GET_INFO
            guard let flags = u32(4), let regions = u32(8), let irqs = u32(12) else { return nil }
            return "{flags=" + Hex.flags(flags, deviceFlags) + ", num_regions=\(regions), num_irqs=\(irqs)}"
        case (.vfioDevice, 0x3B6D):  // VFIO_DEVICE_GET_IRQ_INFO
            guard let flags = u32(4), let index = u32(8), let count = u32(12) else { return nil }
            return "{index=\(index)" + irqIndexName(index) + ", flags=" + Hex.flags(flags, irqFlags) + ", count=\(count)}"
        case (.vfioDevice, 0x3B70):  // VFIO_DEVICE_GET_PCI_HOT_RESET_INFO
            guard let flags = u32(4), let count = u32(8) else { return nil }
            return "{flags=" + Hex.of(flags) + ", count=\(count)}"
        case (.vfioContainer, 0x3B70):  // VFIO_IOMMU_GET_INFO
            guard let flags = u32(4), let sizes = u64(8) else { return nil }
            return "{flags=" + Hex.flags(flags, iommuInfoFlags) + ", iova_pgsizes=" + Hex.of(sizes) + "}"
        case (.vfioContainer, 0x3B71):  // VFIO_IOMMU_MAP_DMA
            guard let flags = u32(4), let vaddr = u64(8), let iova = u64(16), let size = u64(24) else { return nil }
            return "{flags=" + Hex.flags(flags, dmaFlags) + ", vaddr=" + Hex.of(vaddr) + ", iova=" + Hex.of(iova) + ", size=" + Hex.of(size) + "}"
        case (.vfioDevice, 0x3B75):  // VFIO_DEVICE_FEATURE (MIG_DEVICE_STATE has an event of its own)
            guard let flags = u32(4) else { return nil }
            return "{flags=" + featureFlags(flags) + featurePayload(flags & 0xFFFF, flags & 0x4_0000 != 0, u64) + "}"
        case (.vfioContainer, 0x3B72):  // VFIO_IOMMU_UNMAP_DMA
            guard let flags = u32(4), let iova = u64(8), let size = u64(16) else { return nil }
            return "{flags=" + Hex.of(flags) + ", iova=" + Hex.of(iova) + ", size=" + Hex.of(size) + "}"
        default:
            return nil
        }
    }

    /// Feature ids of VFIO_DEVICE_FEATURE (include/uapi/linux/vfio.h; 9 and PRE_COPY from Linux 6.2).
    static let featureNames: [UInt32: String] = [
        0: "PCI_VF_TOKEN", 1: "MIGRATION", 2: "MIG_DEVICE_STATE", 3: "LOW_POWER_ENTRY", 4: "LOW_POWER_ENTRY_WITH_WAKEUP",
        5: "LOW_POWER_EXIT", 6: "DMA_LOGGING_START", 7: "DMA_LOGGING_STOP", 8: "DMA_LOGGING_REPORT", 9: "MIG_DATA_SIZE",
    ]
    static let migrationFlags: [(UInt32, String)] = [(1, "STOP_COPY"), (2, "P2P"), (4, "PRE_COPY")]

    /// `GET|MIGRATION`: the operation bits and the feature's name.
    static func featureFlags(_ flags: UInt32) -> String {
        var parts = [(UInt32(1) << 16, "GET"), (1 << 17, "SET"), (1 << 18, "PROBE")].filter { flags & $0.0 != 0 }.map(\.1)
        let id = flags & 0xFFFF
        parts.append(featureNames[id] ?? "feature \(id)")
        if flags & ~UInt32(0x7_FFFF) != 0 { parts.append(Hex.of(flags & ~UInt32(0x7_FFFF))) }
        return parts.joined(separator: "|")
    }

    /// The feature's data as the kernel left it (GET) or the VMM gave it (SET); nothing for a probe.
    static func featurePayload(_ id: UInt32, _ probe: Bool, _ u64: (Int) -> UInt64?) -> String {
        guard !probe else { return "" }
        switch id {
        case 1:
            guard let f = u64(8) else { return "" }
            return ", migration_flags=" + Hex.flags(UInt32(truncatingIfNeeded: f), migrationFlags)
        case 6:
            guard let page = u64(8), let n = u64(16), let ranges = u64(24) else { return "" }
            return ", page_size=" + Hex.of(page) + ", num_ranges=\(n & 0xFFFF_FFFF), ranges=" + Hex.of(ranges)
        case 8:
            guard let iova = u64(8), let length = u64(16), let page = u64(24) else { return "" }
            return ", iova=" + Hex.of(iova) + ", length=" + Hex.of(length) + ", page_size=" + Hex.of(page)
        case 9:
            guard let size = u64(8) else { return "" }
            return ", stop_copy_length=\(size)"
        default:
            return ""
        }
    }

    /// " (MSI)" for vfio-pci's irq indices.
    static func irqIndexName(_ index: UInt32) -> String {
        switch index {
        case 0: " (INTX)"
        case 1: " (MSI)"
        case 2: " (MSIX)"
        case 3: " (ERR)"
        case 4: " (REQ)"
        default: ""
        }
    }
}
