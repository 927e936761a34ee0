import Foundation
import Testing
import TraceFormat

/// What QEMU's own `-trace 'vfio_*'` log (`PID@SEC.USEC:event …`) says it did with the device, in the form the
/// recorder's events are compared in: the reference for the eBPF tests, written by QEMU, not by vfiotrace.
struct QEMULog {
    let text: String

    init(_ text: String) { self.text = text }

    /// The events of one name, as their lines (`vfio_intx_enable`, `vfio_intx_interrupt`, …).
    func lines(_ event: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.contains(":\(event) ") }
    }

    /// The regions QEMU set up, as "index flags size offset" (hex as the log prints them, numbers compared):
    /// the BARs from `vfio_region_setup`, the config space (index 7) from `vfio_populate_device_config`, whose
    /// numbers QEMU 7.2 prints on a second line.
    var regions: [String] {
        var found: [String] = []
        for line in lines("vfio_region_setup") {
            guard let index = Self.number(after: ", region ", in: line, radix: 10), let flags = Self.number(after: "flags: 0x", in: line),
                let offset = Self.number(after: "offset: 0x", in: line), let size = Self.number(after: "size: 0x", in: line)
            else { continue }
            found.append("\(index) \(flags) \(size) \(offset)")
        }
        if let r = text.range(of: ":vfio_populate_device_config ") {
            let rest = text[r.upperBound...].prefix(300)
            if let size = Self.number(after: "size: 0x", in: rest), let offset = Self.number(after: "offset: 0x", in: rest),
                let flags = Self.number(after: "flags: 0x", in: rest)
            {
                found.append("7 \(flags) \(size) \(offset)")
            }
        }
        return found
    }

    /// The mmaps QEMU made of the device's regions (`vfio_region_mmap … BAR N mmaps[i] [0xSTART - 0xEND]`), as
    /// "region offset length".
    var mmaps: [String] {
        lines("vfio_region_mmap").compactMap { line in
            guard let bar = Self.number(after: " BAR ", in: line, radix: 10), let open = line.range(of: "] [0x"),
                let start = Self.number(after: "] [0x", in: line), let end = Self.number(after: " - 0x", in: line[open.upperBound...])
            else { return nil }
            return "\(bar) \(start) \(end - start + 1)"
        }
    }

    /// The number in `radix` right after the first `marker` in `line`.
    static func number(after marker: String, in line: some StringProtocol, radix: Int = 16) -> UInt64? {
        guard let r = line.range(of: marker) else { return nil }
        let digits = line[r.upperBound...].prefix { $0.isHexDigit }
        return UInt64(digits, radix: radix)
    }
}

extension QEMULog {
    /// A recording of this QEMU run holds QEMU's own view of the device: the regions it set up (BAR0-5 and the config
    /// space), the BAR's one mmap, and one SET_IRQS per INTx enable (binding an eventfd to index 0) or disable.
    func expectSameDevice(as events: [TraceEvent], sourceLocation: SourceLocation = #_sourceLocation) {
        let regions = events.compactMap { e -> String? in
            if case .regionInfo(let r) = e.payload { return "\(r.index) \(r.flags) \(r.size) \(r.offset)" } else { return nil }
        }
        #expect(self.regions.count == 7, "BAR0-5 and the config space in QEMU's log", sourceLocation: sourceLocation)
        #expect(regions == self.regions, sourceLocation: sourceLocation)
        let mmaps = events.compactMap { e -> String? in
            if case .mapping(let m) = e.payload, m.operation == .mmap, !m.device.isEmpty { return "\(m.region) \(m.regionOffset) \(m.length)" }
            return nil
        }
        #expect(mmaps == self.mmaps && mmaps == ["0 0 1048576"], sourceLocation: sourceLocation)
        let intx = events.compactMap { e -> IrqBinding? in if case .irqBinding(let b) = e.payload, b.index == 0 { return b } else { return nil } }
        #expect(
            intx.filter { $0.count == 1 && $0.eventfds.count == 1 }.count == lines("vfio_intx_enable").count, sourceLocation: sourceLocation)
        #expect(intx.filter { $0.count == 0 }.count == lines("vfio_intx_disable").count, sourceLocation: sourceLocation)
    }
}
