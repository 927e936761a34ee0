import Foundation
import TestSupport
import Testing
import TraceFormat

/// The command line on traces crafted to break it: no trap, no forged terminal output, no false pass.
@Suite(.serialized) struct HostileCommandLineTests {
    static let bin = BuildProducts.path("vfiotrace")
    static let device = "0000:00:05.0\u{1B}]0;pwned\u{07}\r\nverdict: PASS \u{202E}\u{FFFE}"

    /// Events with a negative duration and hostile strings in every string field a person sees.
    static func nastyTrace() throws -> String {
        let path = TraceFiles.temporaryPath("nasty")
        let d = device
        let events: [TraceEvent] = [
            TraceEvent(time: 1_000, endTime: 500, pid: 7, tid: 7, result: 5, payload: .deviceOpen(DeviceOpen(fd: 5, groupFd: 4, device: d))),
            TraceEvent(
                time: 2_000, pid: 7, tid: 7,
                payload: .regionInfo(
                    RegionInfo(fd: 5, device: d, index: 0, flags: 0xF, size: 0x1000, offset: 0, sparseAreas: [.init(offset: 0, size: 0x1000)]))),
            TraceEvent(
                time: 3_000, endTime: 3_100, pid: 7, tid: 7, result: 0x7F00_0000_0000,
                payload: .mapping(MappingChange(operation: .mmap, fd: 5, device: d, region: 0, address: 0, length: 0x1000))),
            TraceEvent(
                time: 5_000, endTime: 4_000, pid: 7, tid: 7,
                payload: .deviceState(DeviceStateChange(fd: 5, device: d, migrationProtocol: .v2, requested: 6, resulting: 6))),
            TraceEvent(time: 6_000, pid: 7, tid: 7, payload: .fd(FdChange(operation: .open, fd: 9, kind: .unknown, path: "/tmp/\u{1B}[2J\u{1B}[H"))),
            TraceEvent(
                time: 7_000, pid: 7, tid: 7,
                payload: .marker(Marker(source: "x\u{1B}[31m", name: "trap.on", device: d, fields: [.init("k\n", "v\r")]))),
        ]
        let w = try TraceWriter(
            path: path, header: TraceHeader.forThisHost(source: "hostile\u{1B}]2;title\u{07}", command: ["vmm\r\nforged"], pids: [7]))
        for e in events { try w.append(e) }
        try w.close()
        return path
    }

    static func noTerminalControls(_ text: String) -> Bool {
        !text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x80...0x9F).contains($0.value) || $0 == "\u{202E}" }
    }

    @Test("dump, stats, analyze and report read hostile strings and negative durations without trapping or forging output")
    func nastyStrings() throws {
        let path = try Self.nastyTrace()
        let dir = NSTemporaryDirectory() + "vfiotrace-nasty-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer {
            unlink(path)
            try? FileManager.default.removeItem(atPath: dir)
        }
        for args in [["dump", path], ["stats", path], ["analyze", path], ["verify", path]] {
            let out = try ChildProcess.run(Self.bin, args)
            #expect(out.signal == nil, "\(args[0]) trapped: \(out.stderr)")
            #expect(Self.noTerminalControls(out.stdout), "\(args[0]) printed a control character")
            #expect(Self.noTerminalControls(out.stderr), "\(args[0]) printed a control character on stderr")
            #expect(!out.stdout.contains("\nverdict: PASS"), "\(args[0]): a device name forged a line")
        }
        let dump = try ChildProcess.run(Self.bin, ["dump", path])
        #expect(dump.stdout.contains("\\x1b]0;pwned\\x07\\r\\nverdict: PASS \\u{202e}\\u{fffe}"))
        #expect(dump.stdout.contains("> <-0.000001>"), "a negative duration is shown as such (500 ns rounds to 1 µs)")
        let report = try ChildProcess.run(
            Self.bin,
            [
                "report", path, "--html", dir + "/r.html", "--junit", dir + "/j.xml", "--markdown", dir + "/r.md", "--perfetto", dir + "/p.json",
                "--perfetto-trace", dir + "/p.pftrace",
            ])
        #expect(report.signal == nil, "\(report.stderr)")
        #expect(report.status == 1, "a state requiring traps on a reachable BAR is a gap: \(report.stderr)")
        let junit = try String(contentsOfFile: dir + "/j.xml", encoding: .utf8)
        #expect(!junit.unicodeScalars.contains { $0.value == 0xFFFE || $0.value == 0xFFFF || ($0.value < 0x20 && $0 != "\n") })
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/xmllint") {
            let lint = try ChildProcess.run("/usr/bin/xmllint", ["--noout", dir + "/j.xml"])
            #expect(lint.status == 0, "\(lint.stderr)")
        }
        let md = try String(contentsOfFile: dir + "/r.md", encoding: .utf8)
        #expect(!md.contains("\u{1B}"))
        // The device name reaches the protobuf trace whole (protobuf strings carry any valid UTF-8).
        let pftrace = try Data(contentsOf: URL(fileURLWithPath: dir + "/p.pftrace"))
        #expect(pftrace.range(of: Data("\u{1B}]0;pwned".utf8)) != nil)
    }

    @Test("analyze of files whose times interleave, or of a file and an older one, never traps")
    func interleavedFiles() throws {
        let a = TraceFiles.temporaryPath("late"), b = TraceFiles.temporaryPath("early")
        defer {
            unlink(a)
            unlink(b)
        }
        for (scenario, path) in [("lost-signal", a), ("racy", b)] {
            let s = try ChildProcess.run(Self.bin, ["simulate", "--scenario", scenario, "--seed", "1", "-o", path])
            #expect(s.status == 0)
            unlink(path + ".truth.json")
        }
        for files in [[a, b], [b, a]] {
            let out = try ChildProcess.run(Self.bin, ["analyze", "--format", "json"] + files)
            #expect(out.signal == nil, "\(out.stderr)")
            #expect(out.status == 1, "both scenarios plant gaps")
        }
    }

    @Test("the same file twice, by any path, is refused with exit 2 instead of doubling every count")
    func sameFileTwice() throws {
        let path = try Self.nastyTrace()
        defer { unlink(path) }
        let dir = (path as NSString).deletingLastPathComponent
        let other = dir + "/./" + (path as NSString).lastPathComponent
        for files in [[path, path], [path, other]] {
            let out = try ChildProcess.run(Self.bin, ["analyze"] + files)
            #expect(out.status == 2)
            #expect(out.stderr.contains("each file is analyzed once"), "\(out.stderr)")
        }
    }

    @Test("a trace with no VFIO device is not a pass: analyze exits 3, JUnit fails its check, Markdown says so")
    func nothingChecked() throws {
        let path = TraceFiles.temporaryPath("empty")
        let xml = path + ".xml", md = path + ".md"
        defer { for p in [path, xml, md] { unlink(p) } }
        let events = (0..<4).map { i in
            TraceEvent(
                time: UInt64(i) * 10, pid: 3, tid: 3, result: 8, payload: .eventfd(EventfdOp(operation: i % 2 == 0 ? .write : .read, fd: 4, value: 1))
            )
        }
        _ = try TraceFiles.write(events, to: path)
        let out = try ChildProcess.run(Self.bin, ["analyze", path])
        #expect(out.status == 3)
        #expect(out.stdout.contains("verdict: NOTHING-CHECKED"))
        #expect(out.stdout.contains("no VFIO device"))
        let report = try ChildProcess.run(Self.bin, ["report", path, "--junit", xml, "--markdown", md])
        #expect(report.status == 3)
        let junit = try String(contentsOfFile: xml, encoding: .utf8)
        #expect(junit.contains("name=\"a VFIO device was checked\">") && junit.contains("<failure message=\"nothing was checked"))
        #expect(try String(contentsOfFile: md, encoding: .utf8).contains("NOTHING CHECKED"))
    }

    @Test("ten thousand lost-event records make a report of a hundred lines, fast and small")
    func lostEventFlood() throws {
        let path = TraceFiles.temporaryPath("lost")
        defer { unlink(path) }
        try HostileTraces.write([HostileTraces.lostRecords(10_000)], to: path)
        let out = try ChildProcess.run(Self.bin, ["analyze", path])
        #expect(out.signal == nil)
        let lines = out.stdout.split(separator: "\n").filter { $0.contains("lost-events") }
        #expect(lines.count == 101, "100 listed and one line counting the rest")
        #expect(out.stdout.contains("9900 more lost-events findings not listed (10000 in all)"))
        #expect(out.stdout.contains("10000 warnings"))
        print("analyze of 10,000 lost-event records: peak RSS \(out.maxRSSKiB) KiB")
        #expect(out.maxRSSKiB < 64 * 1024, "peak RSS \(out.maxRSSKiB) KiB")
    }
}
