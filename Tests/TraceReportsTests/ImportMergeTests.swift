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
