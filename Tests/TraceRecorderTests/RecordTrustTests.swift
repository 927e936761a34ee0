import Foundation
import TestSupport
import Testing
import TraceFormat

/// `vfiotrace record` never claims success it did not have: each refusal exits 2 (1 for an unwritable file)
/// before writing or touching anything, and says why. Expected values come from the kernel's /proc, never
/// from the recorder; every traced process is checked alive, running and untraced afterwards.
@Suite(.serialized) struct RecordTrustTests {
    /// A task's /proc status field, read here (not through the recorder's ProcFS).
    static func field(_ name: String, pid: Int32, tid: Int32? = nil) -> String? {
        let path = tid.map { "/proc/\(pid)/task/\($0)/status" } ?? "/proc/\(pid)/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
            $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
    }

    static func threads(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).compactMap { Int32($0) }.sorted()
    }

    /// The process exists, is not stopped (T, t) or a zombie, and no thread of it is traced.
    static func expectRunningUntraced(_ pid: Int32, sourceLocation: SourceLocation = #_sourceLocation) {
        let state = field("State", pid: pid) ?? "gone"
        #expect(
            !state.hasPrefix("T") && !state.hasPrefix("t") && !state.hasPrefix("Z") && state != "gone", "state \(state)",
            sourceLocation: sourceLocation)
        for tid in threads(of: pid) {
            #expect(field("TracerPid", pid: pid, tid: tid) == "0", "thread \(tid) is still traced", sourceLocation: sourceLocation)
        }
    }

    /// Releases a paused test VMM and expects it to finish its work (exit 0).
    static func release(_ p: Process, _ pid: Int32, sourceLocation: SourceLocation = #_sourceLocation) {
        kill(pid, SIGUSR1)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "the VMM finishes normally", sourceLocation: sourceLocation)
    }

    static func waitFor(_ what: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if what() { return true }
            usleep(20_000)
        }
        return false
    }

    @Test("-p of a process that does not exist: exit 2, says so, writes no file")
    func noSuchProcess() throws {
        // A pid the kernel just freed: a child that exited and was reaped.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let pid = gone.processIdentifier
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
        let out = EndToEndTests.temp("none.vftrace")
        defer { unlink(out) }
        let (status, err) = try EndToEndTests.vfiotraceRun(["record", "-p", "\(pid)", "-o", out, "--duration", "1s"])
        #expect(status == 2)
        #expect(err.contains("cannot record process \(pid): there is no such process"), "\(err)")
        #expect(!err.contains("recorded"), "\(err)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("--threads naming no thread of the process: exit 2, the process's threads listed, nothing attached")
    func unknownThread() throws {
        let (p, pid) = try EndToEndTests.startPaused(["--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "10", "--mmaps", "1"])
        let tids = Self.threads(of: pid)
        #expect(tids.count == 2, "main and driver thread: \(tids)")
        let out = EndToEndTests.temp("threads.vftrace")
        defer { unlink(out) }
        // This test runner's pid: a real thread id, of another process.
        let mine = getpid()
        let (status, err) = try EndToEndTests.vfiotraceRun(["record", "-p", "\(pid)", "-o", out, "--threads", "\(mine)"])
        #expect(status == 2)
        #expect(err.contains("thread \(mine) is not a thread of process \(pid)"), "\(err)")
        #expect(err.contains("\(mine) is a thread of process \(mine), which is not being recorded"), "\(err)")
        #expect(err.contains("process \(pid) has \(tids.count) threads: " + tids.map(String.init).joined(separator: ", ")), "\(err)")
        #expect(!FileManager.default.fileExists(atPath: out))
        Self.expectRunningUntraced(pid)
        Self.release(p, pid)
    }

    @Test("--threads: the named thread is traced, the other one never is (its TracerPid stays 0) and runs its work")
    func unnamedThreadUntouched() throws {
        let (p, pid) = try EndToEndTests.startPaused(["--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "20000", "--mmaps", "1"])
        let driver = try #require(Self.threads(of: pid).first { $0 != pid })
        let out = EndToEndTests.temp("named.vftrace")
        defer { unlink(out) }
        let rec = Process()
        rec.executableURL = URL(fileURLWithPath: EndToEndTests.vfiotrace)
        rec.arguments = ["record", "-p", "\(pid)", "-o", out, "--threads", "\(driver)", "--duration", "20s"]
        try rec.run()
        let recorder = "\(rec.processIdentifier)"
        #expect(Self.waitFor { Self.field("TracerPid", pid: pid, tid: driver) == recorder }, "the named thread gets traced by the recorder")
        // The main thread, not named, is never seized: sampled while the recorder is attached.
        for _ in 0..<10 {
            #expect(Self.field("TracerPid", pid: pid, tid: pid) == "0")
            usleep(30_000)
        }
        // Released, the main thread does 20 000 eventfd round trips untraced; the driver thread ends, so does the recording.
        kill(pid, SIGUSR1)
        p.waitUntilExit()
        rec.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(rec.terminationStatus == 0)
        let events = try TraceReader(path: out).readAll()
        #expect(!events.contains { if case .eventfd = $0.payload { return true } else { return false } }, "the main thread's calls are not recorded")
        #expect(events.allSatisfy { $0.tid == pid || $0.tid == driver || $0.tid == 0 })
    }

    @Test("a process already traced (by strace under a name with terminal controls, or by another recorder): exit 2, the tracer named")
    func alreadyTraced() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else {
            print("skipping: strace not installed")
            return
        }
        let (p, pid) = try EndToEndTests.startPaused(["--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "10", "--mmaps", "1"])
        // comm is the name exec'd: a symlink whose name clears the screen if printed raw.
        let dir = EndToEndTests.temp("tracer")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/st\u{1B}[2Jrace"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/usr/bin/strace")
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: link)
        strace.arguments = ["-p", "\(pid)", "-o", "/dev/null"]
        strace.standardError = FileHandle.nullDevice
        try strace.run()
        let tracer = strace.processIdentifier
        #expect(Self.waitFor { Self.field("TracerPid", pid: pid) == "\(tracer)" })
        let comm = try #require(try? String(contentsOfFile: "/proc/\(tracer)/comm", encoding: .utf8)).trimmingCharacters(in: .newlines)
        #expect(comm.contains("\u{1B}"))
        let out = EndToEndTests.temp("second.vftrace")
        defer { unlink(out) }
        let (status, err) = try EndToEndTests.vfiotraceRun(["record", "-p", "\(pid)", "-o", out, "--duration", "1s"])
        #expect(status == 2)
        #expect(err.contains("is already traced by process \(tracer) (\(TerminalText.escaped(comm)))"), "\(err)")
        #expect(!err.contains("\u{1B}"), "the tracer's name is printed escaped")
        #expect(!err.contains("root"), "\(err)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // strace inherits the test runner's blocked signals, so SIGINT/SIGTERM never reach it: kill it, the kernel detaches.
        kill(tracer, SIGKILL)
        strace.waitUntilExit()
        #expect(Self.waitFor { Self.field("TracerPid", pid: pid) == "0" })

        // The same with a first recorder as the tracer.
        let first = Process()
        first.executableURL = URL(fileURLWithPath: EndToEndTests.vfiotrace)
        let out1 = EndToEndTests.temp("first.vftrace")
        defer { unlink(out1) }
        first.arguments = ["record", "-p", "\(pid)", "-o", out1, "--duration", "20s"]
        let firstErr = Pipe()
        first.standardError = firstErr
        try first.run()
        let firstPid = first.processIdentifier
        let attached = Self.waitFor { Self.field("TracerPid", pid: pid) == "\(firstPid)" }
        #expect(attached, "\(first.isRunning ? "" : String(decoding: firstErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        let firstComm = try #require(try? String(contentsOfFile: "/proc/\(firstPid)/comm", encoding: .utf8)).trimmingCharacters(in: .newlines)
        let (status2, err2) = try EndToEndTests.vfiotraceRun(["record", "-p", "\(pid)", "-o", out, "--duration", "1s"])
        #expect(status2 == 2)
        #expect(err2.contains("already traced by process \(firstPid) (\(firstComm))"), "\(err2)")
        kill(firstPid, SIGTERM)
        first.waitUntilExit()
        #expect(first.terminationStatus == 0, "the first recording is unharmed")
        Self.expectRunningUntraced(pid)
        Self.release(p, pid)
    }

    @Test("a trace file whose header cannot be written (/dev/full, a directory, a missing folder): exit 1, nothing attached")
    func unwritableOutput() throws {
        let (p, pid) = try EndToEndTests.startPaused(["--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "10", "--mmaps", "1"])
        for (out, why) in [
            ("/dev/full", "No space left on device"), (NSTemporaryDirectory(), "Is a directory"),
            (EndToEndTests.temp("missing") + "/t.vftrace", "No such file or directory"),
        ] {
            let (status, err) = try EndToEndTests.vfiotraceRun(["record", "-p", "\(pid)", "-o", out, "--duration", "1s"])
            #expect(status == 1, "\(out): \(err)")
            #expect(err.contains(why) && err.contains("nothing was recorded and the process was not touched"), "\(err)")
            #expect(!err.contains("recorded 0") && !err.contains("marked"), "\(err)")
            Self.expectRunningUntraced(pid)
        }
        Self.release(p, pid)
    }

    @Test("a tracee calling syscall(-1) (a number past Int.max as the kernel reports it) is recorded on, and left running")
    func syscallMinusOne() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/perl") else {
            print("skipping: perl not installed")
            return
        }
        let perl = Process()
        perl.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        perl.arguments = ["-e", "my $t = time; syscall(-1) while time - $t < 3; exit 0"]
        try perl.run()
        let pid = perl.processIdentifier
        usleep(200_000)
        let out = EndToEndTests.temp("minus1.vftrace")
        defer { unlink(out) }
        let (status, err) = try EndToEndTests.vfiotraceRun(["record", "-p", "\(pid)", "-o", out, "--duration", "500ms"])
        #expect(status == 0, "\(err)")
        #expect(perl.isRunning)
        Self.expectRunningUntraced(pid)
        perl.waitUntilExit()
        #expect(perl.terminationStatus == 0)
    }
}
