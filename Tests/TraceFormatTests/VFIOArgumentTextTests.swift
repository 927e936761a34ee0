import Testing

@testable import TraceFormat

/// Argument structs as Debian's QEMU and the kernel's vfio-pci left them (bytes from a guest-rig recording),
/// decoded by hand from <linux/vfio.h>.
@Suite struct VFIOArgumentTextTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test(
        "known structs are decoded by fd role and request",
        arguments: [
            (FdKind.vfioGroup, UInt32(0x3B67), "0800000001000000", "{flags=VIABLE}"),
            (.vfioGroup, 0x3B67, "0800000003000000", "{flags=VIABLE|CONTAINER_SET}"),
            (.vfioGroup, 0x3B68, "0b000000", "[11]"),
            (.vfioDevice, 0x3B6B, "1400000002000000090000000500000000000000", "{flags=PCI, num_regions=9, num_irqs=5}"),
            (.vfioDevice, 0x3B6D, "10000000090000000100000001000000", "{index=1 (MSI), flags=EVENTFD|NORESIZE, count=1}"),
            (
                .vfioContainer, 0x3B71, "20000000030000000000a0c4237f000000000000000000000000000400000000",
                "{flags=READ|WRITE, vaddr=0x7f23c4a00000, iova=0x0, size=0x4000000}"
            ),
            (.vfioContainer, 0x3B72, "180000000000000000000000000000000000000400000000", "{flags=0x0, iova=0x0, size=0x4000000}"),
            (.vfioContainer, 0x3B70, "7400000003000000001020400000000000000000", "{flags=PGSIZES|CAPS, iova_pgsizes=0x40201000}"),
            // VFIO_DEVICE_FEATURE: argsz, flags (operation bits | feature id), data (hand-encoded from vfio.h).
            (.vfioDevice, 0x3B75, "10000000010001000500000000000000", "{flags=GET|MIGRATION, migration_flags=STOP_COPY|PRE_COPY}"),
            (
                .vfioDevice, 0x3B75, "280000000600020000100000000000000100000000000000" + "0010fd7f00000000",
                "{flags=SET|DMA_LOGGING_START, page_size=0x1000, num_ranges=1, ranges=0x7ffd1000}"
            ),
            (.vfioDevice, 0x3B75, "0800000006000600", "{flags=SET|PROBE|DMA_LOGGING_START}"),
            (.vfioDevice, 0x3B75, "10000000090001000010000000000000", "{flags=GET|MIG_DATA_SIZE, stop_copy_length=4096}"),
            // 0x3b71 on a device fd is VFIO_DEVICE_PCI_HOT_RESET, not MAP_DMA: raw.
            (.vfioDevice, 0x3B71, "0c00000000000000", "<8 bytes: 0c00000000000000>"),
            // Too short for the struct: raw, never a read past the end.
            (.vfioDevice, 0x3B6B, "14000000", "<4 bytes: 14000000>"),
        ])
    func decoded(target: FdKind, request: UInt32, hex: String, text: String) {
        let io = VFIOIoctl(fd: 5, target: target, request: request, argument: Self.bytes(hex))
        #expect(VFIOArgumentText.describe(io) == text)
    }
}
