import Foundation
import TestSupport
import Testing
import TraceFormat

/// The eBPF backend recording trixie's unmodified QEMU 10 migrating the vendor driver's device (trixie's 6.12
/// kernel), checked against QEMU's own trace log of the same run, the driver's account, and the ptrace backend's
/// recording of the same kind of run (`RealQEMUMigrationTests`, same boot): the decoded VFIO events must be the
/// same, times and addresses aside. Runs with that suite: `VFIOTRACE_REAL_QEMU=1 swift test --filter RealQEMU`.
@Suite(
    .serialized,
    .enabled(if: QEMUMigrationRun.requested && GuestRun.available, "set VFIOTRACE_REAL_QEMU=1 to run QEMU 10's migrations in the trixie guest"))
struct RealQEMUBPFTests {
    /// A decoded VFIO event as it must read whichever backend recorded it: the call, its fd, the decoded struct
    /// and the result; not its time, nor host addresses (QEMU's heap and mappings move from run to run).
    static func describe(_ e: TraceEvent) -> String? {
        switch e.payload {
        case .vfioIoctl(let io): "\(IoctlNames.name(request: io.request, target: io.target)) fd=\(io.fd) = \(e.result)"
        case .deviceOpen(let d): "GROUP_GET_DEVICE_FD group=\(d.groupFd) \(d.device) = \(e.result)"
        case .regionInfo(let r):
            "REGION_INFO fd=\(r.fd) \(r.device) index=\(r.index) flags=\(r.flags) size=\(r.size) offset=\(r.offset) "
                + "type=\(r.regionType.map { "\($0.type)/\($0.subtype)" } ?? "-") sparse=\(r.sparseAreas?.map { "\($0.offset)+\($0.size)" } ?? []) = \(e.result)"
        case .irqBinding(let b):
            "SET_IRQS fd=\(b.fd) \(b.device) index=\(b.index) start=\(b.start) count=\(b.count) flags=\(b.flags) eventfds=\(b.eventfds) = \(e.result)"
        case .deviceState(let s):
            "device_state fd=\(s.fd) \(s.device) v\(s.migrationProtocol.rawValue) \(s.operation) \(s.requested) -> \(s.resulting) data_fd=\(s.dataFd) = \(e.result)"
        case .mapping(let m) where !m.device.isEmpty:
            "\(m.operation) fd=\(m.fd) \(m.device) region=\(m.region)+\(m.regionOffset) length=\(m.length) prot=\(m.prot) flags=\(m.flags) = \(e.failed ? e.result : 0)"
        default: nil
        }
    }

    /// The recording's VFIO events, thread by thread (threads in the order they first did one): both backends keep
    /// each thread's order, and only that (the ptrace path orders threads by its stops, this one by call exits).
    static func vfioEvents(_ path: String, until end: UInt64 = .max) throws -> [[String]] {
        var threads: [Int32: [String]] = [:]
        var order: [Int32] = []
        for e in try TraceReader(path: path).readAll() where e.time <= end {
            guard let d = describe(e) else { continue }
            if threads[e.tid] == nil { order.append(e.tid) }
            threads[e.tid, default: []].append(d)
        }
        return order.map { threads[$0]! }
    }

    /// When the recording's first device_state set (QEMU's PRE_COPY arc) completed.
    static func firstArc(_ path: String) throws -> UInt64? {
        try TraceReader(path: path).readAll().first { e in
            if case .deviceState(let s) = e.payload { return s.operation == .set } else { return false }
        }?.endTime
    }

    static func findingKinds(_ analysis: [String: Any]) -> Set<String> {
        Set((analysis["findings"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String })
    }

    static func status(_ dir: String, _ name: String) -> String {
        GuestRun.text(dir, "\(name).status").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("the backend loads on trixie's 6.12, which has BTF, and the kernel drops nothing", arguments: ["async", "revoke"])
    func recorded(mode: String) throws {
        let dir = try QEMUMigrationRun.bpfOutcome.get()
        let kernel = GuestRun.text(dir, "btf.txt")
        #expect(kernel.hasPrefix("6.12.") && kernel.contains("BTF: /sys/kernel/btf/vmlinux"), "\(kernel)")
        let record = GuestRun.text(dir, "qemu-\(mode)-record.txt")
        #expect(record.contains("records from the kernel"), "not recorded by the eBPF backend: \(record)")
        let events = try TraceReader(path: dir + "/qemu-\(mode)-recorded.vftrace").readAll()
        #expect(!events.contains { $0.kind == .lost }, "the kernel dropped records")
        // The recorder passes QEMU's own end on (0, or 135 when the revoked mapping killed it), as its last event says.
        let exit = events.compactMap { e -> ProcessChange? in
            if case .process(let p) = e.payload, p.operation == .exit { return p } else { return nil }
        }
        let status = Self.status(dir, "qemu-\(mode)")
        #expect(status == "0" || (mode == "revoke" && status == "135"), "\(record)")
        #expect(exit.last.map { "\($0.status)" } == status)
    }

    @Test("regions, the BAR's mmap, INTx bindings and device_state arcs as QEMU's own log says", arguments: ["async", "revoke"])
    func againstQEMULog(mode: String) throws {
        let dir = try QEMUMigrationRun.bpfOutcome.get()
        let log = QEMULog(GuestRun.text(dir, "qemu-\(mode).log"))
        let events = try TraceReader(path: dir + "/qemu-\(mode)-recorded.vftrace").readAll()

        log.expectSameDevice(as: events)
        let logged = RealQEMUMigrationTests.loggedStates(dir, "qemu-\(mode)")
        #expect(try RealQEMUMigrationTests.recordedStates(dir, "qemu-\(mode)") == logged)
        if mode == "async" { #expect(logged == ["PRE_COPY", "STOP_COPY", "STOP"]) } else { #expect(logged.first == "PRE_COPY") }
    }

    @Test("async: the same VFIO events as the ptrace backend's recording of the same migration, thread by thread")
    func asyncSameAsPtrace() throws {
        let bpf = try QEMUMigrationRun.bpfOutcome.get(), ptrace = try QEMUMigrationRun.outcome.get()
        let a = try Self.vfioEvents(bpf + "/qemu-async-recorded.vftrace")
        let b = try Self.vfioEvents(ptrace + "/qemu-async-recorded.vftrace")
        #expect(a.map(\.count) == b.map(\.count))
        for (k, (x, y)) in zip(a, b).enumerated() {
            let first = x.indices.first { $0 >= y.count || x[$0] != y[$0] }
            #expect(
                first == nil,
                "thread \(k), event \(first ?? 0): eBPF \(first.map { x[$0] } ?? "") / ptrace \(first.flatMap { $0 < y.count ? y[$0] : nil } ?? "none")"
            )
        }
    }

    @Test("revoke: the same VFIO events as the ptrace backend's recording up to the PRE_COPY arc (after it, QEMU's SIGBUS races its monitor)")
    func revokeSameAsPtrace() throws {
        let bpf = try QEMUMigrationRun.bpfOutcome.get() + "/qemu-revoke-recorded.vftrace"
        let ptrace = try QEMUMigrationRun.outcome.get() + "/qemu-revoke-recorded.vftrace"
        let a = try Self.vfioEvents(bpf, until: #require(try Self.firstArc(bpf)))
        let b = try Self.vfioEvents(ptrace, until: #require(try Self.firstArc(ptrace)))
        #expect(a == b)
        #expect(a.joined().contains { $0.hasPrefix("device_state") })
    }

    @Test("async: one gap on BAR0 for exactly the driver's requirement and reevaluate-not-bound, as with the ptrace recording")
    func asyncAnalysis() throws {
        let dir = try QEMUMigrationRun.bpfOutcome.get(), ptrace = try QEMUMigrationRun.outcome.get()
        let account = try RealQEMUMigrationTests.account(dir, "async")
        let trapOn = try #require(RealQEMUMigrationTests.time(account, "trap.on"))
        let trapOff = try #require(RealQEMUMigrationTests.time(account, "trap.off"))
        let r = try RealQEMUMigrationTests.analysis(dir, "qemu-async")
        let gaps = try #require(r["gaps"] as? [[String: Any]])
        #expect(gaps.count == 1)
        #expect(gaps.first?["region"] as? Int == 0)
        #expect((gaps.first?["startNs"] as? NSNumber)?.uint64Value == trapOn)
        // QEMU never unmaps BAR0: the gap ends when the driver's requirement does (trap.off, at the device's release when
        // QEMU's files are closed) or at QEMU's exit, whichever is first. This backend stamps the exit at
        // sched_process_exit, which do_exit fires before it closes the files (on 6.12 after the memory went): before
        // trap.off. The ptrace backend sees the exit at wait, after both: there trap.off ends the gap.
        let exit = try #require(
            try TraceReader(path: dir + "/qemu-async-recorded.vftrace").readAll().last { e in
                if case .process(let p) = e.payload { return p.operation == .exit } else { return false }
            }, "no exit recorded")
        #expect(exit.time < trapOff && trapOff - exit.time < 100_000_000, "exit at \(exit.time), trap.off at \(trapOff)")
        #expect((gaps.first?["endNs"] as? NSNumber)?.uint64Value == min(trapOff, exit.time))
        #expect(Self.findingKinds(r).contains("reevaluate-not-bound"))
        let p = try RealQEMUMigrationTests.analysis(ptrace, "qemu-async")
        #expect((p["gaps"] as? [Any])?.count == gaps.count)
        #expect(Self.findingKinds(r) == Self.findingKinds(p))
    }

    @Test("revoke: no gap; vmm-killed exactly when QEMU died of SIGBUS, as with the ptrace recording")
    func revokeAnalysis() throws {
        let dir = try QEMUMigrationRun.bpfOutcome.get(), ptrace = try QEMUMigrationRun.outcome.get()
        let account = try RealQEMUMigrationTests.account(dir, "revoke")
        let trapOn = try #require(RealQEMUMigrationTests.time(account, "trap.on"))
        #expect(try #require(RealQEMUMigrationTests.time(account, "mmap.revoke")) <= trapOn)
        let r = try RealQEMUMigrationTests.analysis(dir, "qemu-revoke")
        #expect((r["gaps"] as? [Any])?.count == 0)
        #expect(Self.findingKinds(r).contains("vmm-killed") == (Self.status(dir, "qemu-revoke") == "135"))
        if Self.status(dir, "qemu-revoke") == Self.status(ptrace, "qemu-revoke") {
            let p = try RealQEMUMigrationTests.analysis(ptrace, "qemu-revoke")
            #expect(Self.findingKinds(r) == Self.findingKinds(p))
        }
    }
}
