import Foundation
import Testing
import TraceFormat

@testable import TraceAnalysis
@testable import TraceReports

/// JSON Lines import and clock-aligned merge, with hand-computed expectations.
@Suite struct ImportMergeTests {
    static func temp(_ n: String) -> String { NSTemporaryDirectory() + "vfiotrace-im-\(UUID().uuidString)-\(n)" }

    /// A VMM trace: BAR0 of "dev" mapped and in a memslot from 100 ns to 900 ns (its own monotonic clock).
    static func vmmTrace(_ path: String, clock: ClockSample) throws {
        var h = TraceHeader(source: "record")
        h.startClock = clock
        let w = try TraceWriter(path: path, header: h)
        let base: UInt64 = 0x7F00_0000_0000
        func ev(_ t: UInt64, _ p: EventPayload, _ r: Int64 = 0) -> TraceEvent { TraceEvent(time: t, pid: 7, tid: 7, result: r, payload: p) }
        for e in [
            ev(10, .ioctl(GenericIoctl(fd: 3, target: .kvmSystem, request: 0xAE01)), 4),
            ev(20, .regionInfo(RegionInfo(fd: 5, device: "dev", index: 0, flags: 0xF, size: 0x1000, offset: 0))),
            ev(30, .mapping(MappingChange(operation: .mmap, fd: 5, device: "dev", region: 0, address: 0, length: 0x1000)), Int64(base)),
            ev(100, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0, size: 0x1000, userAddress: base))),
            ev(900, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0, size: 0, userAddress: base))),
        ] { try w.append(e) }
        try w.close(closeClock: clock)
    }

    @Test("driver-side trap.on in realtime, merged with a VMM trace, opens a gap at the aligned time")
    func importAndMerge() throws {
        let vmm = Self.temp("vmm.vftrace"), log = Self.temp("driver.jsonl"), driver = Self.temp("driver.vftrace"),
            merged = Self.temp("merged.vftrace")
        defer { for p in [vmm, log, driver, merged] { unlink(p) } }
        // VMM: monotonic 0 is realtime 5_000_000. Driver: monotonic 1_000 is realtime 5_000_300.
        try Self.vmmTrace(vmm, clock: ClockSample(monotonicNs: 0, realtimeNs: 5_000_000))
        try """
        {"clock": {"monotonicNs": 1000, "realtimeNs": 5000300}}
        {"t": 1100, "kind": "trap.on", "device": "dev", "region": 0}
        this line is not JSON
        {"t": 5000650, "clock": "realtime", "kind": "marker", "name": "note", "device": "dev", "fields": {"why": "test"}}
        {"t": 5, "kind": "teleport"}
        """.write(toFile: log, atomically: true, encoding: .utf8)
        var warnings: [ImportProblem] = []
        var importer = JSONLImporter()
        importer.warn = { warnings.append($0) }
        #expect(try importer.run(input: log, output: driver) == 2)
        #expect(warnings.map(\.line) == [3, 5])
        #expect(warnings[1].description.contains("unknown kind \"teleport\""))

        var strict = JSONLImporter()
        strict.strict = true
        #expect(throws: ImportProblem.self) { try strict.run(input: log, output: driver + ".strict") }

        #expect(try TraceMerger.merge(inputs: [vmm, driver], output: merged) == 7)
        let events = try TraceReader(path: merged).readAll()
        // Driver monotonic t maps to VMM monotonic t + (5_000_300 − 1_000) − 5_000_000 = t − 700.
        let trapOn = try #require(events.first { if case .marker(let m) = $0.payload { return m.name == "trap.on" } else { return false } })
        #expect(trapOn.time == 400)
        let note = try #require(events.first { if case .marker(let m) = $0.payload { return m.name == "note" } else { return false } })
        #expect(note.time == 650)  // realtime 5_000_650 is VMM monotonic 650
        #expect(events.map(\.endTime) == events.map(\.endTime).sorted())

        let result = try TraceAnalyzer.analyze(paths: [merged])
        #expect(result.gaps.count == 1)
        #expect(result.gaps.first?.startNs == 400)
        #expect(result.gaps.first?.endNs == 900)
        #expect(result.gaps.first?.cause == "marker:trap.on")
    }
}

/// QEMU's log trace backend: line format as QEMU 7.2 writes it with -msg timestamp=on (checked by
/// running Debian's QEMU when installed); vfio event texts per QEMU's hw/vfio/trace-events formats.
@Suite struct QEMUTraceImportTests {
    @Test("lines parse into pid, wall-clock ns, event and arguments; non-trace lines are rejected")
    func parse() throws {
        let l = try #require(QEMUTraceImporter.parse("3839@1795584655.871493:qemu_mutex_lock waiting on mutex 0x55db118eb5a0 (../../softmmu/runstate.c:247)"))
        #expect(l.pid == 3839)
        #expect(l.timeNs == 1_795_584_655_871_493_000)
        #expect(l.event == "qemu_mutex_lock")
        #expect(l.args == "waiting on mutex 0x55db118eb5a0 (../../softmmu/runstate.c:247)")
        #expect(QEMUTraceImporter.parse("qemu_mutex_lock waiting on mutex 0x1") == nil)  // no timestamp prefix
        #expect(QEMUTraceImporter.parse("12@1.5x:event") == nil)
        #expect(QEMUTraceImporter.parse("2026-11-25T05:30:58.842843Z 12@3.000004:vfio_x a")?.timeNs == 3_000_004_000)
    }

    @Test("vfio events become the markers and states the analyzer understands")
    func vfioEvents() throws {
        let dir = NSTemporaryDirectory() + "qemu-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            100@10.000001:vfio_region_mmap Region 0000:00:05.0 BAR 0 mmaps[0] [0x0 - 0xfffff]
            100@10.000002:vfio_intx_interrupt  (0000:00:05.0) Pin A
            100@10.000003:vfio_region_mmaps_set_enabled Region 0000:00:05.0 BAR 0 mmaps enabled: 0
            not a trace line
            100@10.000004:vfio_msi_interrupt  (0000:00:05.0) vector 3 0xfee00000/0x4021
            100@10.000005:vfio_migration_set_state  (0000:00:05.0) new state STOP_COPY, recover state ERROR
            100@10.000006:vfio_intx_eoi  (0000:00:05.0) EOI
            """.write(toFile: dir + "/q.log", atomically: true, encoding: .utf8)
        var warnings: [ImportProblem] = []
        var importer = QEMUTraceImporter()
        importer.warn = { warnings.append($0) }
        #expect(try importer.run(input: dir + "/q.log", output: dir + "/q.vftrace") == 6)
        #expect(warnings.map(\.line) == [4])
        let events = try TraceReader(path: dir + "/q.vftrace").readAll()
        func marker(_ i: Int) -> Marker? { if case .marker(let m) = events[i].payload { return m } else { return nil } }
        #expect(marker(0)?.name == "vfio_region_mmap" && marker(0)?["region"] == "0" && marker(0)?["end"] == "0xfffff")
        #expect(marker(1)?.name == "irq.signal" && marker(1)?.device == "0000:00:05.0" && marker(1)?["index"] == "0")
        #expect(marker(2)?.name == "mmaps.enabled" && marker(2)?["enabled"] == "0" && marker(2)?["region"] == "0")
        #expect(marker(3)?["index"] == "1" && marker(3)?["vector"] == "3")
        #expect(events[4].payload == .deviceState(DeviceStateChange(fd: -1, device: "0000:00:05.0", migrationProtocol: .v2, requested: 3, resulting: 3)))
        #expect(marker(5)?.name == "vfio_intx_eoi" && marker(5)?["args"] == "(0000:00:05.0) EOI")
        #expect(events[2].time == 10_000_003_000)
    }

    @Test("a real QEMU log imports line for line")
    func realQEMU() throws {
        let qemu = "/usr/bin/qemu-system-x86_64"
        guard FileManager.default.isExecutableFile(atPath: qemu) else {
            print("skipping: qemu-system-x86_64 not installed")
            return
        }
        let dir = NSTemporaryDirectory() + "qemu-real-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = ["-machine", "none", "-nodefaults", "-display", "none", "-msg", "timestamp=on", "-trace", "qemu_mutex_lock",
                       "-D", dir + "/q.log", "-S"]
        p.standardInput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(700_000)
        // SIGKILL: the test runner's blocked signal mask is inherited, so SIGTERM may never arrive.
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let lines = try String(contentsOfFile: dir + "/q.log", encoding: .utf8).split(separator: "\n").filter { $0.contains("qemu_mutex_lock") }
        try #require(!lines.isEmpty)
        var importer = QEMUTraceImporter()
        importer.strict = true
        #expect(try importer.run(input: dir + "/q.log", output: dir + "/q.vftrace") == lines.count)
        let first = try #require(try TraceReader(path: dir + "/q.vftrace").readAll().first)
        #expect(first.pid == p.processIdentifier)
    }
}
