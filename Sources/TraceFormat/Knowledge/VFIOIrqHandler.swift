/// vfio-pci's interrupt handler names, as `drivers/vfio/pci/vfio_pci_intrs.c` registers them (and ftrace's
/// `irq_handler_entry` and the BPF backend report them): "vfio-intx(BDF)", "vfio-msi[V](BDF)",
/// "vfio-msix[V](BDF)".
public enum VFIOIrqHandler {
    /// The device, the VFIO irq index (0 INTx, 1 MSI, 2 MSI-X) and the vector; nil for any other handler.
    public static func parse(_ name: String) -> (device: String, index: Int, vector: Int?)? {
        guard name.hasPrefix("vfio-"), let open = name.lastIndex(of: "("), name.hasSuffix(")") else { return nil }
        let device = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
        var kind = name[name.index(name.startIndex, offsetBy: 5)..<open]
        var vector: Int?
        if let b = kind.firstIndex(of: "["), kind.hasSuffix("]") {
            vector = Int(kind[kind.index(after: b)..<kind.index(before: kind.endIndex)])
            kind = kind[..<b]
        }
        switch kind {
        case "intx": return (device, 0, nil)
        case "msi": return (device, 1, vector)
        case "msix": return (device, 2, vector)
        default: return nil
        }
    }
}
