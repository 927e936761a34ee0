import Foundation
import Testing
import TraceFormat

@testable import TraceReports

/// What one imported event is expected to be, computed by hand from the crafted lines.
struct ExpectedEvent: Equatable, CustomStringConvertible {
    var time: UInt64
    var endTime: UInt64
    var pid: Int32
    /// A marker's name, or the payload's kind (`eventfd.create`, `vfio_ioctl`, …).
    var label: String

    init(_ time: UInt64, _ label: String, pid: Int32, end: UInt64? = nil) {
        self.time = time
        self.endTime = end ?? time
        self.pid = pid
        self.label = label
    }

    init(_ e: TraceEvent) {
        time = e.time
        endTime = e.endTime
        pid = e.pid
        switch e.payload {
        case .marker(let m): label = m.name
        case .eventfd(let op): label = "eventfd.\(op.operation)"
        case .vfioIoctl: label = "vfio_ioctl"
        case .deviceState: label = "device_state"
        case .fd: label = "fd"
        case .mapping: label = "mapping"
        case .memslot: label = "memslot"
        default: label = "other"
        }
    }

    var description: String { "\(time)-\(endTime) pid \(pid) \(label)" }
}

/// One crafted input: good lines around a bad one (or none), what must be reported and what must survive.
struct HostileCase: CustomTestStringConvertible, Sendable {
    var name: String
    var format: LogFormat
    var lines: [String]
    /// The line that must be reported (nil: none may be).
    var badLine: Int?
    /// Part of the diagnostic's message.
    var reason: String
    var expected: [ExpectedEvent]

    var testDescription: String { "\(format.rawValue): \(name)" }
}

extension ExpectedEvent: Sendable {}

/// The importers facing hostile input: numbers out of range, overlong lines, controls, unbounded state.
/// Every case is imported through `LogFormat.importLog` (the fuzz drivers' entry point), leniently and strictly.
@Suite struct ImporterHostileTests {
    static let s1700 = UInt64(1_700_000_000_000_000_000)

    // strace: an eventfd created by pid 900 and written by 901, around the bad line.
    static let straceBefore = #"900 1700000000.000100 eventfd2(0, EFD_CLOEXEC) = 6 <0.000005>"#
    static let straceAfter = #"901 1700000000.000300 write(6, "\1\0\0\0\0\0\0\0", 8) = 8 <0.000004>"#
    static let straceGood = [
        ExpectedEvent(s1700 + 100_000, "eventfd.create", pid: 900, end: s1700 + 105_000),
        ExpectedEvent(s1700 + 300_000, "eventfd.write", pid: 901, end: s1700 + 304_000),
    ]
    static func strace(_ name: String, _ bad: String, _ reason: String) -> HostileCase {
        HostileCase(name: name, format: .strace, lines: [straceBefore, bad, straceAfter], badLine: 2, reason: reason, expected: straceGood)
    }

    // QEMU: an INTx handled at 10.000001 and a region mapped at 10.000003.
    static let qemuBefore = "100@10.000001:vfio_intx_interrupt  (0000:00:05.0) Pin A"
    static let qemuAfter = "100@10.000003:vfio_region_mmap Region 0000:00:05.0 BAR 0 mmaps[0] [0x0 - 0xfffff]"
    static let qemuGood = [ExpectedEvent(10_000_001_000, "irq.handled", pid: 100), ExpectedEvent(10_000_003_000, "vfio_region_mmap", pid: 100)]
    static func qemu(_ name: String, _ bad: String, _ reason: String) -> HostileCase {
        HostileCase(name: name, format: .qemuTrace, lines: [qemuBefore, bad, qemuAfter], badLine: 2, reason: reason, expected: qemuGood)
    }

    // ftrace: two INTx signals of 0000:00:03.0 from pid 140.
    static let ftraceBefore = "     vfio-client-140     [000] d.h..    17.727642: irq_handler_entry: irq=23 name=vfio-intx(0000:00:03.0)"
    static let ftraceAfter = "     vfio-client-140     [000] d.h..    17.800000: irq_handler_entry: irq=23 name=vfio-intx(0000:00:03.0)"
    static let ftraceGood = [ExpectedEvent(17_727_642_000, "irq.signal", pid: 140), ExpectedEvent(17_800_000_000, "irq.signal", pid: 140)]
    static func ftrace(_ name: String, _ bad: String, _ reason: String) -> HostileCase {
        HostileCase(name: name, format: .ftrace, lines: [ftraceBefore, bad, ftraceAfter], badLine: 2, reason: reason, expected: ftraceGood)
    }

    // JSON Lines: a trap.on at 1100 and a marker at 1200 (monotonic, no clock line).
    static let jsonlBefore = #"{"t": 1100, "kind": "trap.on", "device": "dev", "region": 0, "pid": 7}"#
    static let jsonlAfter = #"{"t": 1200, "kind": "marker", "name": "note", "pid": 7}"#
    static let jsonlGood = [ExpectedEvent(1100, "trap.on", pid: 7), ExpectedEvent(1200, "note", pid: 7)]
    static func jsonl(_ name: String, _ bad: String, _ reason: String) -> HostileCase {
        HostileCase(name: name, format: .jsonl, lines: [jsonlBefore, bad, jsonlAfter], badLine: 2, reason: reason, expected: jsonlGood)
    }

    static let overlong = String(repeating: "x", count: LogLines.maxLineBytes + 1)

    static let cases: [HostileCase] = [
        // strace
        strace("seconds beyond UInt64", "900 99999999999999999999.000200 close(6) = 0", "is too large"),
        strace("seconds beyond 2^64 ns", "900 18446744074.000000 close(6) = 0", "is too large"),
        strace("10 fraction digits", "900 1700000000.0002000000 close(6) = 0", "more than 9 fraction digits"),
        strace("negative duration", "900 1700000000.000200 close(6) = 0 <-1.0>", "duration <-1.0> is negative"),
        strace("infinite duration", "900 1700000000.000200 close(6) = 0 <inf>", "duration <inf> is not a finite number of seconds"),
        strace("NaN duration", "900 1700000000.000200 close(6) = 0 <nan>", "duration <nan> is not a finite number of seconds"),
        strace("huge duration", "900 1700000000.000200 close(6) = 0 <1e300>", "duration <1e300> is too long"),
        strace("time + duration past 2^64 ns", "900 18446744073.709551 close(6) = 0 <1.0>", "is past 2^64 ns"),
        strace("fd beyond Int32", "900 1700000000.000200 close(99999999999) = 0", "fd 99999999999 does not fit in 32 bits"),
        strace("munmap address beyond 64 bits", "900 1700000000.000200 munmap(0x1ffffffffffffffff, 4096) = 0", "does not fit in 64 bits"),
        strace(
            "memslot slot beyond 32 bits",
            "900 1700000000.000200 ioctl(7, KVM_SET_USER_MEMORY_REGION, {slot=4294967296, flags=0, guest_phys_addr=0x0, memory_size=4096, "
                + "userspace_addr=0x1000}) = 0", "slot 4294967296 does not fit in 32 bits"),
        strace("result beyond Int64", "900 1700000000.000200 close(6) = 99999999999999999999", "result 99999999999999999999 does not fit"),
        strace("eventfd result not an fd", "900 1700000000.000200 eventfd2(0, 0) = 4294967296", "is not an fd"),
        strace("ioctl request beyond 32 bits", "900 1700000000.000200 ioctl(5, 0x100003b6c, 0x1) = 0", "ioctl request 4294982508 does not fit"),
        strace("resumed line without a name (was a trap)", "900 1700000000.000200 <... resumed>", "malformed resumed line"),
        strace("line over 1 MiB", overlong, "line longer than 1048576 bytes"),
        HostileCase(
            name: "an unfinished/resumed pair around a bad line", format: .strace,
            lines: [
                "901 1700000000.000100 ioctl(5, VFIO_DEVICE_GET_REGION_INFO <unfinished ...>", "901 1700000000.000200 close(6) = 0 <inf>",
                "901 1700000000.000500 <... ioctl resumed>, 0x7ffc0000) = 0 <0.000100>",
            ], badLine: 2, reason: "duration <inf>", expected: [ExpectedEvent(s1700 + 100_000, "vfio_ioctl", pid: 901, end: s1700 + 200_000)]),
        // qemu-trace
        qemu("seconds beyond UInt64", "100@99999999999999999999.000002:vfio_x a", "is too large"),
        qemu("seconds beyond 2^64 ns", "100@18446744074.000002:vfio_x a", "is too large"),
        qemu(
            "region start above its end", "100@10.000002:vfio_region_unmap Region 0000:00:05.0 BAR 0 mmaps[0] [0xfffff - 0x0]",
            "region start 0xfffff is above its end 0x0"),
        qemu(
            "region bound beyond 64 bits", "100@10.000002:vfio_region_mmap Region 0000:00:05.0 BAR 0 mmaps[0] [0x10000000000000000 - 0x1]",
            "are not two 64-bit hex numbers"),
        qemu("region bound with a control character", "100@10.000002:vfio_region_mmap Region d BAR 0 mmaps[0] [0x1\u{7} - 0x2]", #"[0x1\x07 - 0x2]"#),
        qemu("line over 1 MiB", overlong, "line longer than 1048576 bytes"),
        HostileCase(
            name: "'Region mmaps enabled' without a name (was a trap) is a plain marker", format: .qemuTrace,
            lines: [qemuBefore, "100@10.000002:vfio_region_mmaps_set_enabled Region mmaps enabled: 0", qemuAfter], badLine: nil, reason: "",
            expected: [qemuGood[0], ExpectedEvent(10_000_002_000, "vfio_region_mmaps_set_enabled", pid: 100), qemuGood[1]]),
        HostileCase(
            name: "a multi-line event held across a bad line", format: .qemuTrace,
            lines: [
                "100@10.000001:vfio_populate_device_config Device 0000:00:05.0 config:", "  size: 0x100, offset: 0x0, flags: 0x3",
                "100@99999999999999999999.000002:vfio_x a", qemuAfter,
            ], badLine: 3, reason: "is too large",
            expected: [ExpectedEvent(10_000_001_000, "vfio_populate_device_config", pid: 100), qemuGood[1]]),
        HostileCase(
            name: "continuation lines past 1 MiB for one event", format: .qemuTrace,
            lines: [
                "100@10.000001:vfio_populate_device_config Device 0000:00:05.0 config:", "  " + String(repeating: "a", count: 600_000),
                "  " + String(repeating: "b", count: 600_000), qemuAfter,
            ], badLine: 3, reason: "longer than 1048576 bytes",
            expected: [ExpectedEvent(10_000_001_000, "vfio_populate_device_config", pid: 100), qemuGood[1]]),
        // ftrace
        ftrace("seconds beyond UInt64", "     vfio-client-140     [000] d.h..    99999999999999999999.000000: irq_handler_entry: x", "is too large"),
        ftrace("seconds beyond 2^64 ns", "     vfio-client-140     [000] d.h..    18446744074.000000: irq_handler_entry: x", "is too large"),
        ftrace("10 fraction digits", "     vfio-client-140     [000] d.h..    17.7500000001: irq_handler_entry: x", "more than 9 fraction digits"),
        ftrace("line over 1 MiB", overlong, "line longer than 1048576 bytes"),
        // jsonl
        jsonl("t beyond 2^64", #"{"t": 18446744073709551616, "kind": "marker", "name": "x"}"#, "invalid \"t\""),
        jsonl("t of 1e300", #"{"t": 1e300, "kind": "marker", "name": "x"}"#, "invalid \"t\""),
        jsonl("negative t", #"{"t": -1, "kind": "marker", "name": "x"}"#, "invalid \"t\""),
        jsonl("pid beyond Int32", #"{"t": 1150, "kind": "marker", "name": "x", "pid": 4294967296}"#, "\"pid\" must be an integer"),
        jsonl(
            "a clock pair whose offset overflows", #"{"clock": {"monotonicNs": 0, "realtimeNs": 18446744073709551615}}"#,
            "does not fit in 64-bit signed ns"),
        jsonl("kind with control characters", #"{"t": 1150, "kind": "\u001b[2J\u0007"}"#, #"unknown kind "\x1b[2J\x07""#),
        jsonl("line over 1 MiB", overlong, "line longer than 1048576 bytes"),
        HostileCase(
            name: "realtime t before the clock pair's monotonic zero", format: .jsonl,
            lines: [
                #"{"clock": {"monotonicNs": 1000, "realtimeNs": 5000}}"#, jsonlBefore,
                #"{"t": 10, "clock": "realtime", "kind": "marker", "name": "x"}"#,
                #"{"t": 5150, "clock": "realtime", "kind": "marker", "name": "late", "pid": 7}"#,
            ], badLine: 3, reason: "maps outside CLOCK_MONOTONIC's range",
            // Realtime 5150 is monotonic 5150 − (5000 − 1000) = 1150.
            expected: [jsonlGood[0], ExpectedEvent(1150, "late", pid: 7)]),
        HostileCase(
            name: "realtime t past 2^64 through the clock pair", format: .jsonl,
            lines: [
                #"{"clock": {"monotonicNs": 9223372036854775807, "realtimeNs": 0}}"#, jsonlBefore,
                #"{"t": 9223372036854775809, "clock": "realtime", "kind": "marker", "name": "x"}"#, jsonlAfter,
            ], badLine: 3, reason: "maps outside CLOCK_MONOTONIC's range", expected: jsonlGood),
    ]

    static func temp() throws -> String {
        let dir = NSTemporaryDirectory() + "hostile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("a bad line is skipped and named; the lines around it are imported intact; --strict stops at it", arguments: cases)
    func hostileLine(c: HostileCase) throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = Array(c.lines.joined(separator: "\n").utf8)
        let result = c.format.importLog(.bytes(input, name: "crafted.log"), output: dir + "/out.vftrace")
        #expect(result.failure == nil)
        #expect(result.problems.map(\.line) == (c.badLine.map { [$0] } ?? []))
        if let problem = result.problems.first {
            #expect(problem.message.contains(c.reason), "\(problem.message)")
            #expect(problem.description.hasPrefix("crafted.log:\(c.badLine ?? 0): "))
            #expect(!problem.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        }
        let events = try TraceReader(path: dir + "/out.vftrace").readAll().map(ExpectedEvent.init)
        #expect(events == c.expected)
        #expect(result.eventsWritten == c.expected.count)

        guard let badLine = c.badLine else { return }
        let strict = c.format.importLog(.bytes(input, name: "crafted.log"), output: dir + "/strict.vftrace", strict: true)
        let failure = try #require(strict.failure as? ImportProblem)
        #expect(failure.line == badLine && failure.message.contains(c.reason))
        #expect(!FileManager.default.fileExists(atPath: dir + "/strict.vftrace"))
        // Nothing is left next to the output either (the spill file is removed).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.vftrace"])
    }

    @Test("an unreadable input fails with line 0 and writes nothing", arguments: LogFormat.allCases)
    func unreadable(format: LogFormat) throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = format.importLog(.file(dir + "/missing.log"), output: dir + "/out.vftrace")
        let failure = try #require(result.failure as? ImportProblem)
        #expect(failure.line == 0 && failure.message.hasPrefix("cannot read the file"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test("lines across the 1 MiB read blocks arrive whole; exactly 1 MiB is read, one byte more is refused")
    func blockBoundaries() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A marker line of `lineBytes` bytes: 36 bytes of `{"t": T, "kind": "marker", "name": "`, the name, `"}`.
        func marker(_ t: Int, lineBytes: Int) -> String {
            #"{"t": \#(t), "kind": "marker", "name": ""# + String(repeating: "n", count: lineBytes - 38) + #""}"#
        }
        // Line 1 ends 3 bytes before the first block's end: line 2 starts in block 1 and ends in block 2.
        let lines = [
            marker(1, lineBytes: LogLines.blockBytes - 4), #"{"t": 2, "kind": "marker", "name": "across"}"#,
            marker(3, lineBytes: LogLines.maxLineBytes), marker(4, lineBytes: LogLines.maxLineBytes + 1),
            #"{"t": 5, "kind": "marker", "name": "last"}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let result = LogFormat.jsonl.importLog(.file(dir + "/in.jsonl"), output: dir + "/out.vftrace")
        #expect(result.failure == nil)
        #expect(result.problems.map(\.line) == [4])
        let events = try TraceReader(path: dir + "/out.vftrace").readAll()
        #expect(events.map(\.time) == [1, 2, 3, 5])
        let names = events.compactMap { e -> Int? in if case .marker(let m) = e.payload { return m.name.utf8.count } else { return nil } }
        #expect(names == [LogLines.blockBytes - 4 - 38, 6, LogLines.maxLineBytes - 38, 4])
    }

    @Test("out-of-order lines within the reorder window are sorted; beyond it they are named and skipped")
    func reorderWindow() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Line 1 at t=500 before t=1000…; then ReorderWindow+1 events from t=1000, then t=5 (too late).
        let n = ImportedTrace.reorderWindow + 1
        var lines = [#"{"t": 500, "kind": "marker", "name": "a"}"#, #"{"t": 400, "kind": "marker", "name": "b"}"#]
        for i in 0..<n { lines.append(#"{"t": \#(1000 + i), "kind": "marker", "name": "m"}"#) }
        lines.append(#"{"t": 5, "kind": "marker", "name": "late"}"#)
        let result = LogFormat.jsonl.importLog(.bytes(Array(lines.joined(separator: "\n").utf8), name: "o.jsonl"), output: dir + "/out.vftrace")
        #expect(result.failure == nil)
        #expect(result.problems.map(\.line) == [n + 3])
        #expect(result.problems.first?.message.contains("out of time order") == true)
        let times = try TraceReader(path: dir + "/out.vftrace").readAll().map(\.time)
        #expect(times == [400, 500] + (0..<UInt64(n)).map { 1000 + $0 })
    }

    @Test("unfinished calls held at once are bounded; the one beyond the bound is named")
    func pendingBound() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines: [String] = []
        for pid in 0...StraceImporter.maxPendingCalls { lines.append("\(pid + 1) 1700000000.000100 ioctl(5, 0x3b6c <unfinished ...>") }
        lines.append("1 1700000000.000200 <... ioctl resumed>, 0x1) = 0 <0.000001>")
        let result = LogFormat.strace.importLog(.bytes(Array(lines.joined(separator: "\n").utf8), name: "p.log"), output: dir + "/out.vftrace")
        #expect(result.problems.map(\.line) == [StraceImporter.maxPendingCalls + 1])
        // The first call still resumes.
        #expect(
            try TraceReader(path: dir + "/out.vftrace").readAll().map(ExpectedEvent.init) == [
                ExpectedEvent(Self.s1700 + 100_000, "vfio_ioctl", pid: 1, end: Self.s1700 + 101_000)
            ])
    }
}

/// Importers never crash on garbage: random bytes, truncated lines, and real lines whose numbers are
/// replaced by hostile ones; every skipped line is named by its number, and what is written is a sound trace.
@Suite struct ImporterFuzzTests {
    static let valid = [
        "900 1700000000.000300 ioctl(4, VFIO_GROUP_GET_DEVICE_FD, \"0000:00:05.0\") = 5 <0.000020>",
        "901 1700000000.000400 ioctl(5, VFIO_DEVICE_GET_REGION_INFO <unfinished ...>",
        "901 1700000000.000500 <... ioctl resumed>, 0x7ffc0000) = 0 <0.000100>",
        "900 1700000000.000600 mmap(NULL, 1048576, PROT_READ|PROT_WRITE, MAP_SHARED, 5, 0) = 0x7f0000000000 <0.000010>",
        "900 1700000000.000700 ioctl(7, KVM_SET_USER_MEMORY_REGION, {slot=5, flags=0, guest_phys_addr=0xfe000000, memory_size=1048576, "
            + "userspace_addr=0x7f0000000000}) = 0 <0.000030>",
        "900 1700000000.000800 pwrite64(5, \"\\1\\0\\0\\0\", 4, 1099511627776) = 4 <0.000006>",
        "100@10.000003:vfio_region_mmaps_set_enabled Region 0000:00:05.0 BAR 0 mmaps enabled: 0",
        "100@10.000001:vfio_region_mmap Region 0000:00:05.0 BAR 0 mmaps[0] [0x0 - 0xfffff]",
        "100@10.000004:vfio_msi_interrupt  (0000:00:05.0) vector 3 0xfee00000/0x4021",
        "  size: 0x100, offset: 0x70000000000, flags: 0x3",
        "{\"clock\": {\"monotonicNs\": 1000, \"realtimeNs\": 5000300}}",
        "{\"t\": 1100, \"kind\": \"trap.on\", \"device\": \"dev\", \"region\": 0}",
        "{\"t\": 5000650, \"clock\": \"realtime\", \"kind\": \"device_state\", \"device\": \"dev\", \"protocol\": 2, \"state\": 3, \"pid\": 4}",
        "     vfio-client-140     [000] d.h..    17.727642: irq_handler_entry: irq=23 name=vfio-intx(0000:00:03.0)",
        "  qemu-system-x86-130     [001] d.h1.  5.000000123: irq_handler_entry: irq=40 name=vfio-msix[3](0000:00:05.0)",
    ]
    static let hostileNumbers = [
        "99999999999999999999", "18446744073709551615", "18446744074", "-1", "-9223372036854775808", "inf", "-inf", "nan", "1e300", "",
        "0x1ffffffffffffffff", "0x", "4294967296", "2147483648", "00000000000000000000000001", "1.0e-300", "+5",
    ]
    static let controls: [UInt8] = [0, 7, 8, 9, 13, 27, 0x7F, 0xC2, 0x9B, 0xE2, 0x80, 0xAE]

    /// Replaces one run of digits (a number field) in `bytes` with a hostile number.
    static func replaceNumber(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var runs: [Range<Int>] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i] >= 0x30 && bytes[i] <= 0x39 else {
                i += 1
                continue
            }
            var j = i
            while j < bytes.count, (bytes[j] >= 0x30 && bytes[j] <= 0x39) || bytes[j] == 0x2E { j += 1 }
            runs.append(i..<j)
            i = j
        }
        guard !runs.isEmpty else { return bytes }
        let run = runs[Int(rng.next() % UInt64(runs.count))]
        let with = hostileNumbers[Int(rng.next() % UInt64(hostileNumbers.count))]
        return Array(bytes[..<run.lowerBound]) + Array(with.utf8) + Array(bytes[run.upperBound...])
    }

    /// One mutated line.
    static func mutant(_ rng: inout SplitMix64) -> [UInt8] {
        var bytes = Array(valid[Int(rng.next() % UInt64(valid.count))].utf8)
        switch rng.next() % 6 {
        case 0: bytes = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
        case 2, 3:
            for _ in 0...(rng.next() % 2) { bytes = replaceNumber(bytes, &rng) }
        case 4:
            for _ in 0..<3 where !bytes.isEmpty {
                bytes.insert(controls[Int(rng.next() % UInt64(controls.count))], at: Int(rng.next() % UInt64(bytes.count)))
            }
        default:
            for _ in 0..<3 where !bytes.isEmpty { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next() % 128) }
        }
        return bytes.filter { $0 != 10 }
    }

    @Test("random, truncated and number-mutated lines (4 importers × 600 lines per seed)", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func fuzz(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var lines: [[UInt8]] = []
        for _ in 0..<600 {
            // A third of the lines stay valid, so state (fd tables, pending calls, held events) builds up.
            lines.append(rng.next() % 3 == 0 ? Array(Self.valid[Int(rng.next() % UInt64(Self.valid.count))].utf8) : Self.mutant(&rng))
        }
        let input = Array(lines.joined(separator: [10]))
        let dir = NSTemporaryDirectory() + "fuzz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var skipped = 0
        for format in LogFormat.allCases {
            let output = dir + "/\(format.rawValue).vftrace"
            let result = format.importLog(.bytes(input, name: "fuzz"), output: output)
            #expect(result.failure == nil, "\(format): \(String(describing: result.failure))")
            skipped += result.skippedLines
            for p in result.problems {
                #expect(p.line >= 1 && p.line <= lines.count && !p.message.isEmpty)
                #expect(!p.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) })
            }
            // Whatever survived is a well-formed, cleanly closed trace with every end at or after its start.
            let r = try TraceReader(path: output)
            let events = try r.readAll()
            #expect(r.isIntact && events.count == result.eventsWritten)
            #expect(events.allSatisfy { $0.endTime >= $0.time })
            // Strict mode stops at a malformed line, naming it, or imports the same.
            let strict = format.importLog(.bytes(input, name: "fuzz"), output: output + ".strict", strict: true)
            if let p = strict.failure as? ImportProblem {
                #expect(p.line == result.problems.first?.line)
            } else {
                #expect(strict.failure == nil && result.skippedLines == 0)
            }
        }
        #expect(skipped > 0)
    }
}
