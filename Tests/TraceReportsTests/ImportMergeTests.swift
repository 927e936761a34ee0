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

        #expect(try TraceMerger.merge(inputs: [vmm, driver], output: merged).events == 7)
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

    @Test("a marker's object and array fields are kept as compact JSON with sorted keys: the same trace on every import")
    func nestedFieldsStable() throws {
        let log = Self.temp("nested.jsonl"), a = Self.temp("nested-a.vftrace"), b = Self.temp("nested-b.vftrace")
        defer { for p in [log, a, b] { unlink(p) } }
        // Enough keys that a dictionary's hash order would differ between runs (it is seeded per process, and per
        // dictionary: two imports in one process differ too).
        try """
        {"t": 10, "kind": "marker", "name": "ctx", "device": "dev", "fields": {"ctx": {"zeta": 1, "alpha": "a/b", "mid": [3, {"y": 2, "x": 1}], "beta": 4, "gamma": 5, "delta": 6}, "n": 7}}
        """.write(toFile: log, atomically: true, encoding: .utf8)
        #expect(try JSONLImporter().run(input: log, output: a) == 1)
        #expect(try JSONLImporter().run(input: log, output: b) == 1)
        let events = try TraceReader(path: a).readAll()
        #expect(events == (try TraceReader(path: b).readAll()))
        guard case .marker(let m) = events.first?.payload else { Issue.record("no marker: \(events)"); return }
        #expect(m["ctx"] == #"{"alpha":"a/b","beta":4,"delta":6,"gamma":5,"mid":[3,{"x":1,"y":2}],"zeta":1}"#)
        #expect(m["n"] == "7")
    }
}

/// QEMU's log trace backend: line format as QEMU 7.2 writes it with -msg timestamp=on (checked by
/// running Debian's QEMU when installed); vfio event texts per QEMU's hw/vfio/trace-events formats.
@Suite struct QEMUTraceImportTests {
    @Test("lines parse into pid, wall-clock ns, event and arguments; non-trace lines are rejected")
    func parse() throws {
        let l = try #require(
            QEMUTraceImporter.parse("3839@1795584655.871493:qemu_mutex_lock waiting on mutex 0x55db118eb5a0 (../../softmmu/runstate.c:247)"))
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
        100@10.000007:vfio_populate_device_config Device 0000:00:05.0 config:
          size: 0x100, offset: 0x70000000000, flags: 0x3
        """.write(toFile: dir + "/q.log", atomically: true, encoding: .utf8)
        var warnings: [ImportProblem] = []
        var importer = QEMUTraceImporter()
        importer.warn = { warnings.append($0) }
        #expect(try importer.run(input: dir + "/q.log", output: dir + "/q.vftrace") == 7)
        #expect(warnings.map(\.line) == [4])
        let events = try TraceReader(path: dir + "/q.vftrace").readAll()
        func marker(_ i: Int) -> Marker? { if case .marker(let m) = events[i].payload { return m } else { return nil } }
        #expect(marker(0)?.name == "vfio_region_mmap" && marker(0)?["region"] == "0" && marker(0)?["end"] == "0xfffff")
        #expect(marker(1)?.name == "irq.handled" && marker(1)?.device == "0000:00:05.0" && marker(1)?["index"] == "0")
        #expect(marker(2)?.name == "mmaps.enabled" && marker(2)?["enabled"] == "0" && marker(2)?["region"] == "0")
        #expect(marker(3)?["index"] == "1" && marker(3)?["vector"] == "3")
        #expect(
            events[4].payload == .deviceState(DeviceStateChange(fd: -1, device: "0000:00:05.0", migrationProtocol: .v2, requested: 3, resulting: 3)))
        #expect(marker(5)?.name == "vfio_intx_eoi" && marker(5)?["args"] == "(0000:00:05.0) EOI")
        // A two-line event (Debian's QEMU 7.2 prints vfio_populate_device_config so) stays one event.
        #expect(marker(6)?["args"] == "Device 0000:00:05.0 config: size: 0x100, offset: 0x70000000000, flags: 0x3")
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
        p.arguments = [
            "-machine", "none", "-nodefaults", "-display", "none", "-msg", "timestamp=on", "-trace", "qemu_mutex_lock",
            "-D", dir + "/q.log", "-S",
        ]
        p.standardInput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let launched = UInt64(Date().timeIntervalSince1970 * 1e9)
        try p.run()
        // Wait (up to 10 s on a loaded machine) for trace lines, then stop QEMU.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, (try? String(contentsOfFile: dir + "/q.log", encoding: .utf8))?.contains("qemu_mutex_lock") != true {
            usleep(50_000)
        }
        // SIGKILL: the test runner's blocked signal mask is inherited, so SIGTERM may never arrive.
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        // A line cut by the kill is not a complete trace line: count only newline-terminated ones.
        let text = try String(contentsOfFile: dir + "/q.log", encoding: .utf8)
        let complete = text.hasSuffix("\n") ? Substring(text) : text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)]
        let lines = complete.split(separator: "\n").filter { $0.contains("qemu_mutex_lock") }
        try #require(!lines.isEmpty)
        var importer = QEMUTraceImporter()
        try complete.write(toFile: dir + "/complete.log", atomically: true, encoding: .utf8)
        importer.strict = true
        #expect(try importer.run(input: dir + "/complete.log", output: dir + "/q.vftrace") == lines.count)
        let first = try #require(try TraceReader(path: dir + "/q.vftrace").readAll().first)
        // QEMU stamps lines with gettimeofday: the first one lies between launch and now.
        #expect(first.time >= launched && first.time <= UInt64(Date().timeIntervalSince1970 * 1e9))
    }
}

/// strace import: a real strace of a real workload, and VFIO lines in strace's output style.
@Suite(.serialized) struct StraceImportTests {
    @Test("a real strace -f -ttt -T -y capture of the bench load gives its eventfd traffic")
    func realStrace() throws {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("vfio-testvmm").path) {
            dir = dir.deletingLastPathComponent()
        }
        let vmm = dir.appendingPathComponent("vfio-testvmm").path
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), FileManager.default.isExecutableFile(atPath: vmm) else {
            print("skipping: strace or the test VMM missing")
            return
        }
        let tmp = NSTemporaryDirectory() + "strace-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        p.arguments = [
            "-f", "-ttt", "-T", "-y", "-o", tmp + "/s.log", vmm, "--scenario", "bench", "--ioctls", "5", "--eventfd-rounds", "7", "--mmaps", "2",
        ]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        var importer = StraceImporter()
        importer.strict = true
        try importer.run(input: tmp + "/s.log", output: tmp + "/s.vftrace")
        let events = try TraceReader(path: tmp + "/s.vftrace").readAll()
        let ops = events.compactMap { e -> (EventfdOp.Operation, UInt64)? in
            if case .eventfd(let op) = e.payload { return (op.operation, op.value) }
            return nil
        }
        // The bench: one eventfd, then 7 × (write 1, read 1).
        #expect(ops.map(\.0) == [.create] + Array(repeating: [EventfdOp.Operation.write, .read], count: 7).flatMap { $0 })
        #expect(ops.dropFirst().allSatisfy { $0.1 == 1 })
        #expect(events.allSatisfy { $0.endTime > $0.time })  // -T durations
    }

    @Test("VFIO lines, unfinished/resumed pairs and decoded memslots")
    func vfioLines() throws {
        let tmp = NSTemporaryDirectory() + "strace-v-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try """
        900 1700000000.000100 openat(AT_FDCWD, "/dev/vfio/vfio", O_RDWR|O_CLOEXEC) = 3 <0.000010>
        900 1700000000.000200 openat(AT_FDCWD, "/dev/vfio/42", O_RDWR|O_CLOEXEC) = 4 <0.000010>
        900 1700000000.000300 ioctl(4, VFIO_GROUP_GET_DEVICE_FD, "0000:00:05.0") = 5 <0.000020>
        901 1700000000.000400 ioctl(5, VFIO_DEVICE_GET_REGION_INFO <unfinished ...>
        902 1700000000.000450 eventfd2(0, EFD_CLOEXEC) = 6 <0.000005>
        901 1700000000.000500 <... ioctl resumed>, 0x7ffc0000) = 0 <0.000100>
        900 1700000000.000600 mmap(NULL, 1048576, PROT_READ|PROT_WRITE, MAP_SHARED, 5, 0) = 0x7f0000000000 <0.000010>
        900 1700000000.000700 ioctl(7, KVM_SET_USER_MEMORY_REGION, {slot=5, flags=0, guest_phys_addr=0xfe000000, memory_size=1048576, userspace_addr=0x7f0000000000}) = 0 <0.000030>
        900 1700000000.000800 ioctl(3, 0x3b71, 0x7ffc1000) = -1 EINVAL (Invalid argument) <0.000004>
        garbage here
        900 1700000000.000900 +++ exited with 0 +++
        """.write(toFile: tmp + "/v.log", atomically: true, encoding: .utf8)
        var warnings: [ImportProblem] = []
        var importer = StraceImporter()
        importer.warn = { warnings.append($0) }
        try importer.run(input: tmp + "/v.log", output: tmp + "/v.vftrace")
        #expect(warnings.map(\.line) == [10])
        let events = try TraceReader(path: tmp + "/v.vftrace").readAll()
        #expect(events.count == 8)
        #expect(events[2].payload == .deviceOpen(DeviceOpen(fd: 5, groupFd: 4, device: "0000:00:05.0")))
        // The resumed ioctl keeps its start time and pid, and knows fd 5 is the device.
        let region = try #require(events.first { if case .vfioIoctl(let v) = $0.payload { return v.request == 0x3B6C } else { return false } })
        #expect(region.time == 1_700_000_000_000_400_000 && region.pid == 901 && region.endTime == region.time + 100_000)
        if case .vfioIoctl(let v) = region.payload { #expect(v.target == .vfioDevice && v.device == "0000:00:05.0") }
        #expect(
            events.contains {
                $0.payload == .memslot(Memslot(vmFd: 7, slot: 5, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: 0x7F00_0000_0000))
            })
        let failed = try #require(events.last)
        #expect(failed.result == -22)
        if case .vfioIoctl(let v) = failed.payload { #expect(IoctlNames.name(request: v.request, target: v.target) == "VFIO_IOMMU_MAP_DMA") }
    }
}

/// The kernel's ftrace text: vfio-pci's handlers become signals of their device; times and the clock pair as given.
@Suite struct FtraceImportTests {
    @Test(
        "lines parse with and without the flags column; vfio handler names give device, index and vector",
        arguments: [
            (
                "     vfio-client-140     [000] d.h..    17.727642: irq_handler_entry: irq=23 name=vfio-intx(0000:00:03.0)",
                "irq.signal", "0000:00:03.0", "0", nil as String?, UInt64(17_727_642_000), Int32(140)
            ),
            (
                "  qemu-system-x86-130     [001] d.h1.  5.000000123: irq_handler_entry: irq=40 name=vfio-msix[3](0000:00:05.0)",
                "irq.signal", "0000:00:05.0", "2", "3", 5_000_000_123, 130
            ),
            (
                "          <idle>-0     [000] 2.5: irq_handler_entry: irq=41 name=vfio-msi[0](0000:00:06.0)",
                "irq.signal", "0000:00:06.0", "1", "0", 2_500_000_000, 0
            ),
            (
                "     vfio-client-140     [000] d.h..    9.818014: vfio_intx_handler <-__handle_irq_event_percpu",
                "vfio_intx_handler", "", nil, nil, 9_818_014_000, 140
            ),
            (
                "          <idle>-0       [000] d.h1.   294.862397: irq_handler_entry: irq=28 name=virtio1-requests",
                "irq_handler_entry", "", nil, nil, 294_862_397_000, 0
            ),
        ])
    func line(text: String, name: String, device: String, index: String?, vector: String?, time: UInt64, pid: Int32) throws {
        let l = try #require(FtraceImporter.parse(Substring(text)))
        let e = FtraceImporter.event(for: l)
        guard case .marker(let m) = e.payload else { Issue.record("not a marker"); return }
        #expect(m.name == name && m.device == device && m.source == "ftrace")
        #expect(m["index"] == index && m["vector"] == vector)
        #expect(e.time == time && e.pid == pid)
    }

    @Test("comments are skipped, malformed lines named by number, the clock pair is the one given")
    func file() throws {
        let dir = NSTemporaryDirectory() + "ftrace-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        # tracer: nop
        #           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
             vfio-client-140     [000] d.h..    17.727642: irq_handler_entry: irq=23 name=vfio-intx(0000:00:03.0)
        garbage here
             vfio-client-140     [000] d.h..    17.700000: irq_handler_entry: irq=23 name=vfio-intx(0000:00:03.0)
        """.write(toFile: dir + "/t.txt", atomically: true, encoding: .utf8)
        var warned: [Int] = []
        var k = FtraceImporter(clock: ClockSample(monotonicNs: 7, realtimeNs: 1_000_007))
        k.warn = { warned.append($0.line) }
        #expect(try k.run(input: dir + "/t.txt", output: dir + "/k.vftrace") == 2)
        #expect(warned == [4])
        let r = try TraceReader(path: dir + "/k.vftrace")
        #expect(r.header.startClock == ClockSample(monotonicNs: 7, realtimeNs: 1_000_007))
        #expect(try r.readAll().map(\.time) == [17_700_000_000, 17_727_642_000])
        k.strict = true
        #expect(throws: ImportProblem.self) { try k.run(input: dir + "/t.txt", output: dir + "/k2.vftrace") }
    }
}
