import CBPFRecorder
import Foundation
import TestSupport
import Testing
import TraceFormat

@testable import TraceRecorder

/// The memslot snapshot's records as the iterator writes them, built by hand: what is kept, what is refused.
@Suite struct MemslotSnapshotParsingTests {
    static func slot(tgid: UInt32 = 100, fd: Int32 = 6, slot: UInt32, flags: UInt32 = 0, gpa: UInt64, size: UInt64, ua: UInt64) -> vft_memslot {
        vft_memslot(kind: UInt32(VFT_SNAP_SLOT.rawValue), tgid: tgid, vm_fd: fd, slot: slot, flags: flags, status: 0, gpa: gpa, size: size, ua: ua)
    }

    static func vm(tgid: UInt32 = 100, fd: Int32 = 6, status: UInt32) -> vft_memslot {
        vft_memslot(kind: UInt32(VFT_SNAP_VM.rawValue), tgid: tgid, vm_fd: fd, slot: 0, flags: 0, status: status, gpa: 0, size: 0, ua: 0)
    }

    static func parse(_ records: [vft_memslot], extra: [UInt8] = [], pids: Set<Int32> = [100]) -> MemslotSnapshot {
        var bytes: [UInt8] = []
        for var r in records { bytes += withUnsafeBytes(of: &r) { Array($0) } }
        return (bytes + extra).withUnsafeBytes { MemslotSnapshot($0, pids: pids) }
    }

    @Test("each VM's slots are kept once its closing record counts them; KVM's flags kept, the attach flag never taken from the kernel")
    func whole() {
        let s = Self.parse([
            Self.slot(slot: 0, gpa: 0, size: 0x4000, ua: 0x7F00_0000_0000),
            Self.slot(slot: 7, flags: 2 | Memslot.existingAtAttach, gpa: 0xFFFF_F000, size: 0x1000, ua: 0x7F00_0001_0000),
            Self.vm(status: 2),
            Self.slot(fd: 7, slot: 1 | 1 << 16, gpa: 0x1000, size: 0x1000, ua: 0x7F00_0002_0000),
            Self.vm(fd: 7, status: 1),
        ])
        #expect(
            s.slots[100] == [
                Memslot(vmFd: 6, slot: 0, flags: 0, guestPhys: 0, size: 0x4000, userAddress: 0x7F00_0000_0000),
                Memslot(vmFd: 6, slot: 7, flags: 2, guestPhys: 0xFFFF_F000, size: 0x1000, userAddress: 0x7F00_0001_0000),
                Memslot(vmFd: 7, slot: 0x1_0001, flags: 0, guestPhys: 0x1000, size: 0x1000, userAddress: 0x7F00_0002_0000),
            ])
        #expect(s.vms[100] == 2 && s.incomplete.isEmpty && s.malformed == 0)
    }

    @Test(
        "hostile or torn records are refused, never believed",
        arguments: [
            // (case, records, slots kept, incomplete, malformed)
            ("torn walk", [slot(slot: 0, gpa: 0, size: 0x1000, ua: 1), vm(status: 1 | VFT_SNAP_TORN)], 0, "torn", 0),
            ("truncated VM", [slot(slot: 0, gpa: 0, size: 0x1000, ua: 1), vm(status: 1 | VFT_SNAP_TRUNCATED)], 1, "truncated", 0),
            ("count lies", [slot(slot: 0, gpa: 0, size: 0x1000, ua: 1), vm(status: 2)], 0, "malformed", 1),
            ("another VM's slot", [slot(fd: 9, slot: 0, gpa: 0, size: 0x1000, ua: 1), vm(status: 1)], 0, "malformed", 1),
            ("a process not traced", [slot(tgid: 5, slot: 0, gpa: 0, size: 0x1000, ua: 1), vm(tgid: 5, status: 1)], 0, nil, 2),
            ("empty slot", [slot(slot: 0, gpa: 0, size: 0, ua: 1), vm(status: 0)], 0, nil, 1),
            ("unaligned size", [slot(slot: 0, gpa: 0, size: 0x1001, ua: 1), vm(status: 0)], 0, nil, 1),
            ("wraps past 2^64", [slot(slot: 0, gpa: UInt64.max - 0xFFF, size: 0x2000, ua: 1), vm(status: 0)], 0, nil, 1),
            ("slot id past 15 bits", [slot(slot: 0x8000, gpa: 0, size: 0x1000, ua: 1), vm(status: 0)], 0, nil, 1),
            ("no closing record", [slot(slot: 0, gpa: 0, size: 0x1000, ua: 1)], 0, nil, 1),
        ] as [(String, [vft_memslot], Int, String?, Int)])
    func hostile(name: String, records: [vft_memslot], kept: Int, incomplete: String?, malformed: Int) {
        let s = Self.parse(records)
        #expect((s.slots[100] ?? []).count == kept, "\(name)")
        #expect(s.incomplete[100] == incomplete, "\(name)")
        #expect(s.malformed == malformed, "\(name)")
    }

    @Test("a trailing partial record is counted as malformed, not read past the end")
    func partial() {
        let s = Self.parse([Self.slot(slot: 0, gpa: 0, size: 0x1000, ua: 1), Self.vm(status: 1)], extra: [1, 2, 3])
        #expect(s.slots[100]?.count == 1 && s.malformed == 1)
    }
}

/// Memslots a real VMM made before the recorder attached: the test VMM (`--scenario memslots`) sets up two VMs and
/// their slots, logs each call, then waits; the snapshot at the attach must be exactly the slots its log leaves live.
@Suite(
    .serialized,
    .enabled(if: BPFAvailability.loads, "the BPF program cannot load here (not root, no BTF, not x86_64): see the printed reason"),
    .enabled(if: access("/dev/kvm", R_OK | W_OK) == 0 && BPFProgram.kernelHasKVM, "no usable /dev/kvm"))
struct BPFMemslotSnapshotTests {
    /// (vm fd, slot, flags, gpa, size, ua) of a log line or an event.
    typealias Slot = [UInt64]

    @Test(
        "the memslot snapshot at an attach is the slots the VMM's log leaves live, each flagged, then a marker; a later delete is a call",
        arguments: [["--backend", "bpf"], ["--backend", "bpf", "--kvm-events"], ["--backend", "ptrace"]])
    func snapshotMatchesLog(backend: [String]) throws {
        let trace = EndToEndTests.temp("snap.vftrace"), logPath = EndToEndTests.temp("snap.jsonl")
        defer { unlink(trace); unlink(logPath) }
        let (vmm, pid) = try EndToEndTests.startPaused(["--scenario", "memslots", "--log", logPath])
        // The ptrace recorder takes the same snapshot with the iterator alone, once it has seized the threads.
        let rec = try BPFDifferentialTests.startRecorder(["record"] + backend + ["-o", trace, "-p", "\(pid)"], trace: trace)
        kill(pid, SIGUSR1)
        vmm.waitUntilExit()
        rec.waitUntilExit()
        #expect(vmm.terminationStatus == 0 && rec.terminationStatus == 0)
        let events = try TraceReader(path: trace).readAll()
        let log = try EndToEndTests.log(logPath).filter { $0["op"] as? String == "memslot" }
        let u64 = BPFKernelEventTests.u64
        // The VMM's own account: its calls before the attach, applied in order (the last one, the delete, came after).
        let attach = try #require(events.first { $0.kind == .process }).time
        var live: [String: Slot] = [:]
        for l in log where u64(l["t1"]) < attach {
            let key = "\(u64(l["vm"])) \(u64(l["slot"]))"
            live[key] = u64(l["size"]) == 0 ? nil : [u64(l["vm"]), u64(l["slot"]), u64(l["flags"]), u64(l["gpa"]), u64(l["size"]), u64(l["ua"])]
        }
        #expect(live.count == 5, "the scenario leaves five slots in two VMs")
        var snapshot: [Slot] = [], calls: [Slot] = []
        // Taken at the attach (bpf: the same instant; ptrace: once every thread is seized, before any stop is handled).
        let marker = BPFKernelEventTests.markers(events, "kvm.memslot_snapshot")
        let taken = try #require(marker.first?.0.time)
        #expect(backend.contains("bpf") ? taken == attach : taken >= attach)
        for e in events {
            guard case .memslot(let m) = e.payload else { continue }
            let s = [UInt64(m.vmFd), UInt64(m.slot), UInt64(m.flags & ~Memslot.existingAtAttach), m.guestPhys, m.size, m.userAddress]
            if m.flags & Memslot.existingAtAttach != 0 {
                snapshot.append(s)
                #expect(e.time == taken && e.pid == pid)
            } else {
                calls.append(s)
            }
        }
        #expect(Set(snapshot) == Set(live.values) && snapshot.count == live.count)
        // After the snapshot, the marker that says it was whole.
        #expect(marker.count == 1)
        #expect(marker.first?.1["vms"] == "2" && marker.first?.1["slots"] == "5" && marker.first?.1["incomplete"] == nil)
        // The delete the VMM made after the attach: recorded as the call it is.
        let delete = try #require(log.last)
        #expect(calls == [[u64(delete["vm"]), 3, 0, u64(delete["gpa"]), 0, u64(delete["ua"])]])
    }

    @Test("launch mode takes no snapshot: every memslot is a recorded call")
    func launchHasNone() throws {
        let trace = EndToEndTests.temp("snap-launch.vftrace")
        defer { unlink(trace) }
        let (status, err) = try EndToEndTests.vfiotraceRun([
            "record", "--backend", "bpf", "-o", trace, "--", EndToEndTests.vmm, "--scenario", "memslots",
        ])
        #expect(status == 0, "\(err)")
        let events = try TraceReader(path: trace).readAll()
        let slots = events.compactMap { if case .memslot(let m) = $0.payload { m } else { nil } }
        // Seven calls before the signal-less run's delete of slot 3: eight in all, none flagged.
        #expect(slots.count == 8)
        #expect(slots.allSatisfy { $0.flags & Memslot.existingAtAttach == 0 })
        #expect(BPFKernelEventTests.markers(events, "kvm.memslot_snapshot").isEmpty)
    }
}
