import CBPFRecorder
import Foundation
import TestSupport
import Testing
import TraceFormat

@testable import TraceRecorder

/// The kernel-side events (`record --backend bpf --kvm-events`) as markers: records built by hand give the fields
/// of the contract with the analyzer (docs/BPF.md), and a real KVM guest's trapped MMIO accesses, recorded from the
/// test VMM (`--scenario kvm-mmio`), match its own log access for access.
@Suite struct KernelEventMarkerTests {
    func raw(kind: vft_kind, tgid: UInt32 = 100, tid: UInt32 = 101, args: [UInt64], name: String = "", entry: UInt64 = 1000, exit: UInt64 = 1000)
        -> [UInt8]
    {
        var r = vft_record()
        r.kind = kind.rawValue
        r.tgid = tgid
        r.tid = tid
        r.nr = -1
        r.entry_ns = entry
        r.exit_ns = exit
        let a = args + Array(repeating: 0, count: 6 - args.count)
        r.args = (a[0], a[1], a[2], a[3], a[4], a[5])
        r.mem_len = (UInt32(name.utf8.count), 0)
        return withUnsafeBytes(of: &r) { Array($0) } + Array(name.utf8)
    }

    func marker(_ bytes: [UInt8]) -> (TraceEvent, Marker)? {
        guard case .kernel(let k) = bytes.withUnsafeBytes({ BPFRecord($0) }), let e = k.traceEvent, case .marker(let m) = e.payload else {
            return nil
        }
        return (e, m)
    }

    static let cases: [(vft_kind, [UInt64], String, String, [String])] = [
        (VFT_KVM_MMIO, [2, 4, 0xFE00_0060, 0x11, 0], "", "kvm.mmio", ["type=write", "len=4", "gpa=0xfe000060", "value=0x11"]),
        (VFT_KVM_MMIO, [1, 8, 0x10000, 0xA500_0000, 0], "", "kvm.mmio", ["type=read", "len=8", "gpa=0x10000", "value=0xa5000000"]),
        // A read the VMM never completed: no value.
        (VFT_KVM_MMIO, [1, 4, 0x10000, 0, 1], "", "kvm.mmio", ["type=read", "len=4", "gpa=0x10000"]),
        (VFT_KVM_UNMAP, [0x7F00_0000_0000, 0x7F00_0000_1000], "", "kvm.unmap_hva_range", ["start=0x7f0000000000", "end=0x7f0000001000"]),
        (VFT_KVM_EXIT, [6, 0], "", "kvm.userspace_exit", ["reason=MMIO"]),
        (VFT_KVM_EXIT, [10, UInt64(bitPattern: -4)], "", "kvm.userspace_exit", ["reason=INTR", "errno=EINTR"]),
        (VFT_KVM_EXIT, [77, 0], "", "kvm.userspace_exit", ["reason=77"]),
        (VFT_KVM_SET_IRQ, [10, 1, 0, 0], "", "kvm.set_irq", ["gsi=10", "level=1", "source=0"]),
        (VFT_KVM_SET_IRQ, [24, 0, 2, 1], "", "kvm.set_irq", ["gsi=24", "level=0", "source=2", "via=irqfd"]),
        (VFT_KVM_MSI, [0xFEE0_1000, 0x4031, 0, 0], "", "kvm.msi_set_irq", ["address=0xfee01000", "data=0x4031", "vector=49", "dest=1"]),
        (
            VFT_KVM_MSI, [0xFEEF_F000, 0x42, 1, 25], "", "kvm.msi_set_irq",
            ["address=0xfeeff000", "data=0x42", "vector=66", "dest=255", "via=irqfd", "gsi=25"]
        ),
        // KVM's x2APIC format: the destination's upper 24 bits in address[63:40].
        (VFT_KVM_MSI, [0x0000_0100_FEE0_2000, 0x30, 0, 0], "", "kvm.msi_set_irq", ["address=0x100fee02000", "data=0x30", "vector=48", "dest=258"]),
        (VFT_IRQ_SIGNAL, [11], "vfio-intx(0000:00:05.0)", "irq.signal", ["index=0", "irq=11"]),
        (VFT_IRQ_SIGNAL, [40], "vfio-msix[3](0000:00:05.0)", "irq.signal", ["index=2", "vector=3", "irq=40"]),
    ]

    @Test("each kernel record becomes its marker with the contract's fields", arguments: Self.cases)
    func markers(kind: vft_kind, args: [UInt64], name: String, expected: String, fields: [String]) throws {
        let (e, m) = try #require(marker(raw(kind: kind, args: args, name: name)))
        #expect(m.name == expected)
        #expect(m.source == (expected == "irq.signal" ? "kernel" : "kvm"))
        #expect(m.device == (expected == "irq.signal" ? "0000:00:05.0" : ""))
        #expect(m.fields.map { "\($0.key)=\($0.value)" } == fields)
        #expect(e.pid == 100 && e.tid == 101 && e.time == 1000 && e.endTime == 1000)
    }

    @Test("a completed read spans its exit to the VMM and its completion; other handlers' interrupts are left out")
    func spansAndOtherHandlers() throws {
        let (e, _) = try #require(marker(raw(kind: VFT_KVM_MMIO, args: [1, 4, 0x10000, 7, 0], entry: 1000, exit: 5000)))
        #expect(e.time == 1000 && e.endTime == 5000)
        guard case .kernel(let k) = raw(kind: VFT_IRQ_SIGNAL, args: [9], name: "ahci[0000:00:1f.2]").withUnsafeBytes({ BPFRecord($0) }) else {
            Issue.record("not a kernel record")
            return
        }
        #expect(k.traceEvent == nil)
        // A name running past the record, and an MMIO type KVM does not have, are malformed.
        var short = raw(kind: VFT_IRQ_SIGNAL, args: [9], name: "vfio-intx(0000:00:05.0)")
        short.removeLast()
        #expect(short.withUnsafeBytes { BPFRecord($0) } == nil)
        #expect(raw(kind: VFT_KVM_MMIO, args: [0, 4, 0, 0, 0]).withUnsafeBytes { BPFRecord($0) } == nil)
    }

    @Test("skipped MMIO exits become one kvm.mmio_skipped marker per interval with their count")
    func skipped() {
        var events: [TraceEvent] = []
        var now: UInt64 = 10
        let backend = BPFBackend(decoder: SyscallDecoder(), clock: { now }) { events.append($0) }
        backend.noteSkippedMMIO(0)
        now = 40
        backend.noteSkippedMMIO(25)
        backend.noteSkippedMMIO(25)
        #expect(events.count == 1)
        #expect(events.first?.time == 10 && events.first?.endTime == 40)
        if case .marker(let m) = events.first?.payload { #expect(m.name == "kvm.mmio_skipped" && m["count"] == "25") }
    }
}

/// A real one-vCPU KVM guest whose page at 0x10000 is first a memslot over a mapping, then trapped: the recorded
/// `kvm.mmio` markers against the test VMM's own log of every MMIO exit it handled, count for count, and the MMU
/// notifier's unmap against its munmap.
@Suite(
    .serialized,
    .enabled(if: BPFAvailability.loads, "the BPF program cannot load here (not root, no BTF, not x86_64): see the printed reason"),
    .enabled(if: access("/dev/kvm", R_OK | W_OK) == 0 && BPFProgram.kernelHasKVM, "no usable /dev/kvm"))
struct BPFKernelEventTests {
    static let accesses = 60

    /// Records a scenario (kvm-mmio by default; launch mode, or attached before it starts); returns the trace's events
    /// and the log.
    static func record(attach: Bool, kvmEvents: Bool = true, scenario: [String] = ["--scenario", "kvm-mmio", "--kvm-mmio", "\(accesses)"])
        throws -> ([TraceEvent], [[String: Any]])
    {
        let trace = EndToEndTests.temp("kvm.vftrace"), logPath = EndToEndTests.temp("kvm.jsonl")
        defer { unlink(trace); unlink(logPath) }
        let vmmArgs = scenario + ["--log", logPath]
        let flags = ["record", "--backend", "bpf"] + (kvmEvents ? ["--kvm-events"] : []) + ["-o", trace]
        if attach {
            let (vmm, pid) = try EndToEndTests.startPaused(vmmArgs)
            let rec = try BPFDifferentialTests.startRecorder(flags + ["-p", "\(pid)"], trace: trace)
            kill(pid, SIGUSR1)
            vmm.waitUntilExit()
            rec.waitUntilExit()
            #expect(vmm.terminationStatus == 0)
            #expect(rec.terminationStatus == 0)
        } else {
            let (status, err) = try EndToEndTests.vfiotraceRun(flags + ["--", EndToEndTests.vmm] + vmmArgs)
            #expect(status == 0, "\(err)")
        }
        return (try TraceReader(path: trace).readAll(), try EndToEndTests.log(logPath))
    }

    static func markers(_ events: [TraceEvent], _ name: String) -> [(TraceEvent, Marker)] {
        events.compactMap { e in
            if case .marker(let m) = e.payload, m.name == name { (e, m) } else { nil }
        }
    }

    static func u64(_ v: Any?) -> UInt64 { (v as? NSNumber)?.uint64Value ?? UInt64.max }

    @Test(
        "every trapped access the VMM handled is one kvm.mmio, in order, with its type, gpa, length and value, inside its KVM_RUN",
        arguments: [false, true])
    func mmioMatchesLog(attach: Bool) throws {
        let (events, log) = try Self.record(attach: attach)
        let logged = log.filter { $0["op"] as? String == "mmio" }
        let recorded = Self.markers(events, "kvm.mmio")
        #expect(logged.count == Self.accesses)
        #expect(recorded.count == logged.count)
        for (l, (e, m)) in zip(logged, recorded) {
            #expect(m["type"] == l["type"] as? String)
            #expect(m["gpa"] == KernelEvent.hex(Self.u64(l["gpa"])))
            #expect(m["len"] == "\(Self.u64(l["len"]))")
            #expect(m["value"] == KernelEvent.hex(Self.u64(l["value"])))
            #expect(m.device == "" && m.source == "kvm")
            #expect(e.tid == (l["tid"] as? NSNumber)?.int32Value)
            // The access is the exit: inside the KVM_RUN the VMM timed; a read completes on the next one.
            #expect(e.time >= Self.u64(l["t0"]) && e.time <= Self.u64(l["t1"]))
            if m["type"] == "read" { #expect(e.endTime > Self.u64(l["t1"])) }
        }
        // Each exit to the VMM for them, and nothing for the port I/O exits.
        let exits = Self.markers(events, "kvm.userspace_exit")
        #expect(exits.count == logged.count)
        #expect(exits.allSatisfy { $0.1["reason"] == "MMIO" })
        #expect(!events.contains { $0.kind == .lost })
    }

    @Test("the munmap of the page KVM mapped gives a kvm.unmap_hva_range covering it, inside the munmap; the memslot delete alone none")
    func unmapMatchesLog() throws {
        let (events, log) = try Self.record(attach: false)
        let munmap = try #require(log.first { $0["op"] as? String == "munmap" })
        let delete = try #require(log.first { $0["op"] as? String == "memslot" && Self.u64($0["size"]) == 0 })
        let start = Self.u64(munmap["addr"]), end = start + Self.u64(munmap["len"])
        let unmaps = Self.markers(events, "kvm.unmap_hva_range").map { (e, m) in
            (time: e.time, start: UInt64(m["start"]!.dropFirst(2), radix: 16)!, end: UInt64(m["end"]!.dropFirst(2), radix: 16)!)
        }
        let covering = unmaps.filter { $0.start <= start && $0.end >= end }
        #expect(covering.count == 1)
        if let u = covering.first { #expect(u.time >= Self.u64(munmap["t0"]) && u.time <= Self.u64(munmap["t1"])) }
        #expect(!unmaps.contains { $0.time >= Self.u64(delete["t0"]) && $0.time <= Self.u64(delete["t1"]) })
        #expect(delete["ua"] as? NSNumber == munmap["addr"] as? NSNumber)
    }

    static let msis = 12

    @Test(
        "every MSI the VMM injected (KVM_SIGNAL_MSI, irqfd writes) is one kvm.msi_set_irq in its thread with its address and data; the irqfd worker's retries name the GSI",
        arguments: [false, true])
    func msiMatchesLog(attach: Bool) throws {
        let (events, log) = try Self.record(attach: attach, scenario: ["--scenario", "kvm-msi", "--kvm-msi", "\(Self.msis)"])
        let logged = log.filter { $0["op"] as? String == "msi" }
        #expect(logged.count == 3 * Self.msis)
        let recorded = Self.markers(events, "kvm.msi_set_irq")
        let direct = recorded.filter { $0.1["via"] == nil }, worker = recorded.filter { $0.1["via"] == "irqfd" }
        // The injecting thread's own: one per call, in order, inside the call the VMM timed.
        #expect(direct.count == logged.count)
        for (l, (e, m)) in zip(logged, direct) {
            #expect(m["address"] == KernelEvent.hex(Self.u64(l["address"])))
            #expect(m["data"] == KernelEvent.hex(Self.u64(l["data"])))
            #expect(m["vector"] == "\(Self.u64(l["data"]) & 0xFF)")
            #expect(m["dest"] == "\((Self.u64(l["address"]) >> 12) & 0xFF)")
            #expect(e.tid == (l["tid"] as? NSNumber)?.int32Value)
            #expect(e.time >= Self.u64(l["t0"]) && e.time <= Self.u64(l["t1"]))
        }
        // The broadcast route (GSI 25) the fast path cannot deliver: KVM's irqfd worker injects it again, at least
        // once and at most once per write (queued work coalesces), before the VMM's deassign returns.
        let broadcast = logged.filter { Self.u64($0["gsi"]) == 25 }
        let deassign = try #require(log.first { $0["op"] as? String == "irqfd_deassign" })
        let pid = try #require(events.first { $0.kind == .process }?.pid)
        #expect(worker.count >= 1 && worker.count <= broadcast.count, "\(worker.count) worker injections")
        for (e, m) in worker {
            #expect(m["gsi"] == "25" && m["address"] == KernelEvent.hex(Self.u64(broadcast.first?["address"])) && m["data"] == "0x42")
            #expect(e.pid == pid && e.tid == pid)
            #expect(e.time >= Self.u64(broadcast.first?["t0"]) && e.time <= Self.u64(deassign["t1"]))
        }
        #expect(!events.contains { $0.kind == .lost })
    }

    @Test("without --kvm-events (the default) no kernel events are recorded")
    func offByDefault() throws {
        let (events, _) = try Self.record(attach: false, kvmEvents: false)
        #expect(!events.contains { if case .marker(let m) = $0.payload { m.source == "kvm" } else { false } })
    }
}
