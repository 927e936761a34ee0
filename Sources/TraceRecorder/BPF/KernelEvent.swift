package import TraceFormat

/// An event of the kernel itself that the BPF program saw in the same clock as the syscalls: a guest's trapped MMIO
/// access, KVM's MMU notifier zapping a host range, a vCPU's return to the VMM, a GSI raised, vfio-pci's interrupt
/// handler. Recorded as a `marker` (source `kvm`, or `kernel` for the interrupt handler); docs/BPF.md has the fields.
package struct KernelEvent: Equatable {
    package enum Kind: Equatable {
        /// A guest MMIO access that exited; `value` nil when a read never completed.
        case mmio(write: Bool, length: UInt32, gpa: UInt64, value: UInt64?)
        /// KVM's MMU notifier invalidated [start, end) of the VMM's address space.
        case unmapHostRange(start: UInt64, end: UInt64)
        /// KVM_RUN returned to the VMM with `reason` (KVM_EXIT_*).
        case userspaceExit(reason: UInt32, errno: Int32)
        /// A GSI set to `level`; `byWorker`: raised by the irqfd worker for a GSI the process bound.
        case setIRQ(gsi: UInt32, level: Int32, source: Int32, byWorker: Bool)
        /// KVM about to deliver the MSI `address`/`data` (KVM_SIGNAL_MSI, an irqfd routed to an MSI); `gsi`: raised by
        /// the irqfd worker for that GSI, which the process bound.
        case msi(address: UInt64, data: UInt32, gsi: UInt32?)
        /// A hard interrupt's handler named `name` (vfio-pci's: "vfio-intx(BDF)", "vfio-msix[V](BDF)") ran.
        case interruptHandler(irq: UInt32, name: String)
    }

    package var pid: Int32
    package var tid: Int32
    package var time: UInt64
    package var endTime: UInt64
    package var kind: Kind

    package init(pid: Int32, tid: Int32, time: UInt64, endTime: UInt64, kind: Kind) {
        self.pid = pid
        self.tid = tid
        self.time = time
        self.endTime = endTime
        self.kind = kind
    }

    /// KVM_EXIT_* names (include/uapi/linux/kvm.h), by number.
    static let exitReasons = [
        "UNKNOWN", "EXCEPTION", "IO", "HYPERCALL", "DEBUG", "HLT", "MMIO", "IRQ_WINDOW_OPEN", "SHUTDOWN", "FAIL_ENTRY", "INTR",
        "SET_TPR", "TPR_ACCESS", "S390_SIEIC", "S390_RESET", "DCR", "NMI", "INTERNAL_ERROR", "OSI", "PAPR_HCALL", "S390_UCONTROL",
        "WATCHDOG", "S390_TSCH", "EPR", "SYSTEM_EVENT", "S390_STSI", "IOAPIC_EOI", "HYPERV", "ARM_NISV", "X86_RDMSR", "X86_WRMSR",
        "DIRTY_RING_FULL", "AP_RESET_HOLD", "X86_BUS_LOCK", "XEN", "RISCV_SBI", "RISCV_CSR", "NOTIFY", "LOONGARCH_IOCSR",
        "MEMORY_FAULT",
    ]

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// The trace event: a marker with no device (the analyzer maps addresses to devices), but for the interrupt
    /// handler, whose name says the device. Nil for an interrupt handler that is not vfio-pci's.
    package var traceEvent: TraceEvent? {
        let marker: Marker
        switch kind {
        case .mmio(let write, let length, let gpa, let value):
            var fields: [Marker.Field] = [.init("type", write ? "write" : "read"), .init("len", "\(length)"), .init("gpa", Self.hex(gpa))]
            if let value { fields.append(.init("value", Self.hex(value))) }
            marker = Marker(source: "kvm", name: "kvm.mmio", fields: fields)
        case .unmapHostRange(let start, let end):
            marker = Marker(source: "kvm", name: "kvm.unmap_hva_range", fields: [.init("start", Self.hex(start)), .init("end", Self.hex(end))])
        case .userspaceExit(let reason, let errno):
            var fields: [Marker.Field] = [.init("reason", reason < Self.exitReasons.count ? Self.exitReasons[Int(reason)] : "\(reason)")]
            if errno != 0 { fields.append(.init("errno", ErrnoNames.name(-errno))) }
            marker = Marker(source: "kvm", name: "kvm.userspace_exit", fields: fields)
        case .setIRQ(let gsi, let level, let source, let byWorker):
            var fields: [Marker.Field] = [.init("gsi", "\(gsi)"), .init("level", "\(level)"), .init("source", "\(source)")]
            if byWorker { fields.append(.init("via", "irqfd")) }
            marker = Marker(source: "kvm", name: "kvm.set_irq", fields: fields)
        case .msi(let address, let data, let gsi):
            // x86's MSI format: vector in data[7:0], destination APIC id in address[19:12] (and, in KVM's x2APIC
            // format, address[63:40] above it).
            let dest = (address >> 12) & 0xFF | (address >> 32) & 0xFFFF_FF00
            var fields: [Marker.Field] = [
                .init("address", Self.hex(address)), .init("data", Self.hex(UInt64(data))), .init("vector", "\(data & 0xFF)"),
                .init("dest", "\(dest)"),
            ]
            if let gsi { fields += [.init("via", "irqfd"), .init("gsi", "\(gsi)")] }
            marker = Marker(source: "kvm", name: "kvm.msi_set_irq", fields: fields)
        case .interruptHandler(let irq, let name):
            guard let h = VFIOIrqHandler.parse(name) else { return nil }
            var fields: [Marker.Field] = [.init("index", "\(h.index)")]
            if let v = h.vector { fields.append(.init("vector", "\(v)")) }
            fields.append(.init("irq", "\(irq)"))
            marker = Marker(source: "kernel", name: "irq.signal", device: h.device, fields: fields)
        }
        return TraceEvent(time: time, endTime: endTime, pid: pid, tid: tid, payload: .marker(marker))
    }
}
