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
        case (.vfioContainer, 0x3B72):  // VFIO_IOMMU_UNMAP_DMA
            guard let flags = u32(4), let iova = u64(8), let size = u64(16) else { return nil }
            return "{flags=" + Hex.of(flags) + ", iova=" + Hex.of(iova) + ", size=" + Hex.of(size) + "}"
        default:
            return nil
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
