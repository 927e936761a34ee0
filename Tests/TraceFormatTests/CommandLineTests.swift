import Foundation
import TestSupport
import Testing
import TraceFormat

/// Runs the built `vfiotrace` binary: exit codes and messages users and CI scripts depend on.
@Suite(.serialized) struct CommandLineTests {
    static var binary: String? {
        let path = BuildProducts.path("vfiotrace")
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    static func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let bin = try #require(binary, "vfiotrace binary not found next to the test bundle")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func sampleFile() throws -> (path: String, events: [TraceEvent]) {
        let events = (0..<50).map { i in
            TraceEvent(
                time: 1_000_000 + UInt64(i) * 1000, endTime: 1_000_500 + UInt64(i) * 1000, pid: 100, tid: 101, result: 8,
                payload: .eventfd(EventfdOp(operation: i % 2 == 0 ? .write : .read, fd: 9, value: 1)))
        }
        let path = TraceFiles.temporaryPath("cli")
        _ = try TraceFiles.write(events, to: path, chunkBytes: 300)
        return (path, events)
    }

    @Test("verify: 0 intact, 1 truncated with the chunk and byte named, 2 not a trace")
    func verifyExitCodes() throws {
        let (path, _) = try Self.sampleFile()
        defer { unlink(path) }
        let ok = try Self.run(["verify", path])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("OK: 50 events"))

        let bytes = TraceFiles.bytes(path)
        TraceFiles.store(Array(bytes[0..<(bytes.count * 2 / 3)]), path)
        let cut = try Self.run(["verify", path])
        #expect(cut.status == 1)
        #expect(cut.stdout.contains("DAMAGED"))
        #expect(cut.stdout.contains("chunk"))
        #expect(cut.stdout.contains("at byte"))

        TraceFiles.store(Array("hello, not a trace\n".utf8), path)
        let wrong = try Self.run(["verify", path])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("not a vfiotrace trace"))

        let missing = try Self.run(["verify", path + ".does-not-exist"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot open"))

        let usage = try Self.run(["verify"])
        #expect(usage.status == 2)
    }

    @Test("dump prints one line per event, in text and JSON Lines")
    func dumpLines() throws {
        let (path, events) = try Self.sampleFile()
        defer { unlink(path) }
        let text = try Self.run(["dump", path])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == events.count)
        // 500 ns from entry to exit, shown like strace -T in microseconds (rounded).
        #expect(lines[0] == "0.001000000 100/101 write(9<eventfd>, [1], 8) = 8 <0.000001>")
        let jsonl = try Self.run(["dump", "--format", "jsonl", path])
        let objects = try jsonl.stdout.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == events.count)
        #expect(objects[1]["kind"] as? String == "eventfd")
        #expect(objects[1]["operation"] as? String == "read")
        #expect(objects[1]["timeNs"] as? Int == 1_001_000)
        let bad = try Self.run(["dump", "--kind", "nonsense", path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("unknown event kind"))
    }

    @Test("stats --format json has events and bytesPerEvent that match the file")
    func statsJSON() throws {
        let (path, events) = try Self.sampleFile()
        defer { unlink(path) }
        let r = try Self.run(["stats", "--format", "json", path])
        #expect(r.status == 0)
        let obj = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["events"] as? Int == events.count)
        let size = Double(TraceFiles.bytes(path).count)
        let bpe = try #require(obj["bytesPerEvent"] as? Double)
        #expect(abs(bpe - size / Double(events.count)) < 0.001)
        #expect((obj["kinds"] as? [String: Int])?["eventfd"] == events.count)
        // First entry 1_000_000 ns, last exit 1_000_500 + 49 * 1_000 ns.
        #expect(obj["spanNs"] as? Int == 49_500)
        #expect(obj["intact"] as? Bool == true)
    }

    @Test(
        "durations need a unit (but 0), refuse negative values and a bare 'm', and say why",
        arguments: [
            ("2", "has no unit"), ("0.4", "has no unit"), ("-1ms", "cannot be negative"), ("5m", "'m' is ambiguous"),
            ("abc", "is not a duration"),
        ])
    func durationArguments(value: String, why: String) throws {
        let (path, _) = try Self.sampleFile()
        defer { unlink(path) }
        let bad = try Self.run(["analyze", "--max-gap", value, path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains(why), "\(bad.stderr)")
        for good in ["0", "500us", "1.5s", "5min"] {
            // No VFIO device in the sample: the verdict is 'nothing checked' (3), the duration was taken.
            #expect(try Self.run(["analyze", "--max-gap", good, path]).status == 3, "\(good)")
        }
    }

    @Test("record --duration: a bare number is seconds, 0 is refused with the reason")
    func recordDuration() throws {
        let zero = try Self.run(["record", "--duration", "0", "-o", "/dev/null", "--", "/bin/true"])
        #expect(zero.status == 2)
        #expect(zero.stderr.contains("leave --duration out"))
        let negative = try Self.run(["record", "--duration", "-5", "-o", "/dev/null", "--", "/bin/true"])
        #expect(negative.status == 2 && negative.stderr.contains("cannot be negative"))
    }

    @Test("errors say what, where and why in one line: an unwritable report, a file that is not an analysis")
    func errorTexts() throws {
        let (path, _) = try Self.sampleFile()
        let notJSON = TraceFiles.temporaryPath("notjson")
        defer {
            unlink(path)
            unlink(notJSON)
        }
        let report = try Self.run(["report", path, "--markdown", "/nonexistent-dir/r.md"])
        #expect(report.status == 2)
        #expect(report.stderr == "vfiotrace: cannot write /nonexistent-dir/r.md: No such file or directory\n")
        TraceFiles.store(Array("hello".utf8), notJSON)
        let compare = try Self.run(["compare", notJSON, notJSON])
        #expect(compare.status == 2)
        #expect(compare.stderr.hasPrefix("vfiotrace: \(notJSON): not an analysis (it is not JSON); write one with"))
        #expect(compare.stderr.split(separator: "\n").count == 1)
    }
}
