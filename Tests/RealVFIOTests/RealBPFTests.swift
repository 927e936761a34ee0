import Foundation
import TestSupport
import Testing
import TraceFormat

/// One run of `Scripts/guest/real-bpf.sh` in the guest rig's bookworm profile (Debian's 6.1 kernel, Debian's
/// QEMU 7.2): QEMU recorded with `record --backend bpf --kvm-events`, launched and attached after its setup, an
/// INTx raised from outside, with the kernel's own accounts of the interrupt beside each recording. About a
/// minute under TCG, so it runs with the other real-QEMU suites: `VFIOTRACE_REAL_QEMU=1 swift test --filter RealBPF`.
enum BPFGuestRun {
    static let outcome: Result<String, GuestFailure> = {
        let out = NSTemporaryDirectory() + "vfiotrace-real-bpf-\(UUID().uuidString)"
        let guest = GuestRun.repository.appendingPathComponent("Scripts/guest/real-bpf.sh").path
        let (status, output) = GuestRun.run(
            GuestRun.script, ["run", "-o", out, "-t", "600", "--", "sh '\(guest)' '\(out)' '\(BuildProducts.directory.path)'"])
        guard status == 0, output.contains("done") else { return .failure(GuestFailure(status: status, output: output, folder: out)) }
        return .success(out)
    }()
}

/// The guest kernel's own accounts of vfio-pci's interrupt handler, read from the files real-bpf.sh left.
struct KernelInterrupts {
    /// ftrace's `irq_handler_entry` of the device's vfio-intx handler: (irq, mono ns, to the µs ftrace prints).
    var ftrace: [(irq: Int, ns: UInt64)]
    /// The kprobe on `vfio_intx_handler`: mono ns of each run; nil when the kernel allowed no kprobe (and why).
    var kprobe: [UInt64]?
    var kprobeRefusal: String
    /// /proc/interrupts' line of the device's vfio-intx right before and right after the INTx: (irq, count).
    var before: (irq: Int, count: UInt64)?
    var after: (irq: Int, count: UInt64)?

    init(_ dir: String, ftrace ftraceFile: String, kprobe kprobeFile: String, interrupts: String, bdf: String) {
        ftrace = GuestRun.text(dir, ftraceFile).split(separator: "\n").compactMap { line in
            guard line.contains("irq_handler_entry"), line.contains("name=vfio-intx(\(bdf))"), let ns = Self.stamp(line),
                let irq = QEMULog.number(after: "irq=", in: line, radix: 10)
            else { return nil }
            return (Int(irq), ns)
        }
        let kprobeText = GuestRun.text(dir, kprobeFile)
        kprobeRefusal = kprobeText.hasPrefix("kprobe: none") ? kprobeText : ""
        kprobe = kprobeRefusal.isEmpty ? kprobeText.split(separator: "\n").filter { $0.contains("vfio_intx:") }.compactMap(Self.stamp) : nil
        let lines = GuestRun.text(dir, interrupts).split(separator: "\n")
        before = lines.first { $0.hasPrefix("before ") }.flatMap { Self.interruptCount($0.dropFirst(7)) }
        after = lines.first { $0.hasPrefix("after ") }.flatMap { Self.interruptCount($0.dropFirst(6)) }
    }

    /// An ftrace line's time stamp (trace_clock mono: seconds with six decimals) in nanoseconds.
    static func stamp(_ line: Substring) -> UInt64? {
        guard let field = line.split(separator: " ").first(where: { $0.hasSuffix(":") && $0.contains(".") && $0.first!.isNumber }) else {
            return nil
        }
        let parts = field.dropLast().split(separator: ".")
        guard parts.count == 2, let s = UInt64(parts[0]), let us = UInt64(parts[1].padding(toLength: 9, withPad: "0", startingAt: 0)) else {
            return nil
        }
        return s * 1_000_000_000 + us
    }

    /// `/proc/interrupts`: " 23:   5   IR-IO-APIC  23-fasteoi   vfio-intx(…)" → (23, 5), the counts of every CPU summed.
    static func interruptCount(_ line: Substring) -> (irq: Int, count: UInt64)? {
        let fields = line.split(separator: " ")
        guard let first = fields.first, first.hasSuffix(":"), let irq = Int(first.dropLast()) else { return nil }
        return (irq, fields.dropFirst().prefix { UInt64($0) != nil }.reduce(0) { $0 + UInt64($1)! })
    }
}

/// The eBPF backend in the guest rig against the other side of each exchange: QEMU's own trace log for what it
/// did with the device, the kernel's ftrace, a kprobe and /proc/interrupts for vfio-pci's interrupt handler.
@Suite(
    .serialized,
    .enabled(if: QEMUMigrationRun.requested && GuestRun.available, "set VFIOTRACE_REAL_QEMU=1 to run the eBPF backend in the guest rig"))
struct RealBPFTests {
    static func events(_ dir: String, _ name: String) throws -> [TraceEvent] { try TraceReader(path: dir + "/" + name).readAll() }

    @Test("the guest kernel has what the backend needs, and both recordings end cleanly")
    func loads() throws {
        let dir = try BPFGuestRun.outcome.get()
        #expect(GuestRun.text(dir, "btf.txt").contains("BTF: /sys/kernel/btf/vmlinux"))
        // Launch mode: the recorder passes SIGTERM on to QEMU, which ends normally ("terminating on signal 15").
        #expect(GuestRun.text(dir, "launch.status").hasPrefix("0"), "\(GuestRun.text(dir, "launch.txt"))")
        #expect(GuestRun.text(dir, "launch.txt").contains("terminating on signal 15"))
        #expect(GuestRun.text(dir, "late.status").hasPrefix("0"), "\(GuestRun.text(dir, "late.txt"))")
        for name in ["launch.vftrace", "late.vftrace"] {
            let events = try Self.events(dir, name)
            #expect(!events.contains { $0.kind == .lost }, "\(name): the kernel dropped records")
        }
    }

    @Test("launch: regions, the BAR's mmap and the INTx bindings as QEMU's own log states them")
    func launchAgainstQEMULog() throws {
        let dir = try BPFGuestRun.outcome.get()
        let log = QEMULog(GuestRun.text(dir, "qemu-launch.log"))
        let events = try Self.events(dir, "launch.vftrace")

        // Each vfio_intx_enable is one SET_IRQS binding an eventfd to index 0, each vfio_intx_disable one unbinding.
        log.expectSameDevice(as: events)
        #expect(log.lines("vfio_intx_enable").count >= 1)
    }

    @Test(
        "irq.signal: one per run of vfio-pci's INTx handler, as ftrace, a kprobe, /proc/interrupts and QEMU count them",
        arguments: [
            ("launch", "launch.vftrace", "ftrace.txt", "kprobe.txt", "interrupts.txt", "qemu-launch.log"),
            ("attached after setup", "late.vftrace", "ftrace-late.txt", "kprobe-late.txt", "interrupts-late.txt", "qemu-late.log"),
        ])
    func irqSignal(mode: String, trace: String, ftrace: String, kprobe: String, interrupts: String, qemuLog: String) throws {
        let dir = try BPFGuestRun.outcome.get()
        let bdf = try #require(
            QEMULog(GuestRun.text(dir, qemuLog)).lines("vfio_intx_enable").first.flatMap { l in
                l.range(of: "(").map { String(l[$0.upperBound...].prefix { $0 != ")" }) }
            }, "\(mode): no vfio_intx_enable in QEMU's log")
        let kernel = KernelInterrupts(dir, ftrace: ftrace, kprobe: kprobe, interrupts: interrupts, bdf: bdf)
        let signals = try Self.events(dir, trace).compactMap { e -> (UInt64, Marker)? in
            if case .marker(let m) = e.payload, m.name == "irq.signal" { return (e.time, m) } else { return nil }
        }

        // The counts: the kernel's (/proc/interrupts, ftrace, the kprobe), QEMU's (vfio_intx_interrupt: it read
        // the eventfd the handler signalled) and the recording's.
        let before = try #require(kernel.before, "\(mode): no vfio-intx line in /proc/interrupts before the INTx")
        let after = try #require(kernel.after, "\(mode): no vfio-intx line in /proc/interrupts after the INTx")
        let delta = Int(after.count - before.count)
        #expect(delta >= 1, "\(mode): the INTx never reached the kernel")
        #expect(signals.count == delta, "\(mode): /proc/interrupts counted \(delta)")
        #expect(kernel.ftrace.count == delta)
        #expect(QEMULog(GuestRun.text(dir, qemuLog)).lines("vfio_intx_interrupt").count == delta)
        if let hits = kernel.kprobe {
            #expect(hits.count == delta, "\(mode): the kprobe on vfio_intx_handler ran \(hits.count) times")
        } else {
            // Debian's kernels allow kprobes; a kernel that does not is said here.
            print("\(mode): \(kernel.kprobeRefusal)")
        }

        // Each marker names the device, the INTx index and the line's irq number as the kernel shows it.
        for (_, m) in signals {
            #expect(m.source == "kernel" && m.device == bdf && m["index"] == "0" && m["irq"] == "\(after.irq)")
        }
        #expect(kernel.ftrace.allSatisfy { $0.irq == after.irq })

        // The times: the program runs in irq_handler_entry before ftrace's own probe of it stamps the event, and
        // the kprobe fires at the handler's first instruction after both; all on CLOCK_MONOTONIC. ftrace prints µs.
        for (k, signal) in signals.enumerated() where k < kernel.ftrace.count {
            let ftraceNs = kernel.ftrace[k].ns
            #expect(signal.0 <= ftraceNs + 999, "\(mode): irq.signal at \(signal.0), ftrace at \(ftraceNs)")
            #expect(ftraceNs <= signal.0 + 10_000_000, "\(mode): more than 10 ms between the program and ftrace in one tracepoint")
            if let hits = kernel.kprobe, k < hits.count {
                #expect(ftraceNs <= hits[k] && signal.0 <= hits[k] + 999, "\(mode): the handler ran before its tracepoint")
            }
        }
    }
}
