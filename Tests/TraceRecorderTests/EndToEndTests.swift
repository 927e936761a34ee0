import Foundation
import TestSupport
import Testing
import TraceFormat

/// Real ptrace and seccomp against real processes: the test VMM (emulated VFIO device, real mmaps,
/// eventfds and KVM memslots), the recorder binary, and strace as the peer.
@Suite(.serialized) struct EndToEndTests {
    static var vmm: String { BuildProducts.path("vfio-testvmm") }
    static var vfiotrace: String { BuildProducts.path("vfiotrace") }

    static func temp(_ name: String) -> String { NSTemporaryDirectory() + "vfiotrace-e2e-\(UUID().uuidString)-\(name)" }

    /// The test VMM's own account of what it did (JSON Lines).
    static func log(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// Runs `vfiotrace ARGS` to completion; returns its status and stderr. (The recorder runs in its own
    /// process: it reaps with waitpid(-1), which must not steal the test runner's other children.)
    static func vfiotraceRun(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: vfiotrace)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// Attaches the recorder binary to a paused VMM, releases the VMM once the attach is in the trace, waits for both.
    static func recordAttached(_ vmmArgs: [String], trace: String) throws -> (vmmStatus: Int32, recorderStatus: Int32) {
        let (p, pid) = try startPaused(vmmArgs)
        let rec = Process()
        rec.executableURL = URL(fileURLWithPath: vfiotrace)
        rec.arguments = ["record", "-p", "\(pid)", "-o", trace, "--duration", "20s"]
        try rec.run()
        // The writer seals a chunk within 100 ms: wait until the attach record is on disk.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let r = try? TraceReader(path: trace), let events = try? r.readAll(), !events.isEmpty { break }
            usleep(20_000)
        }
        kill(pid, SIGUSR1)
        p.waitUntilExit()
        rec.waitUntilExit()
        return (p.terminationStatus, rec.terminationStatus)
    }

    /// Starts the VMM paused; returns the process and its pid.
    static func startPaused(_ args: [String]) throws -> (Process, Int32) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: vmm)
        p.arguments = args + ["--wait-signal"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        let pid = try #require(Int32(line.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)), "VMM said: \(line)")
        return (p, pid)
    }

    @Test("attach mode: the decoded events match what the test VMM logged it did", arguments: ["racy", "safe", "v1"])
    func attachMatchesLog(scenario: String) throws {
        let trace = Self.temp("attach.vftrace"), logPath = Self.temp("vmm.jsonl")
        defer { unlink(trace); unlink(logPath) }
        let status = try Self.recordAttached(["--scenario", scenario, "--log", logPath], trace: trace)
        #expect(status.vmmStatus == 0)
        #expect(status.recorderStatus == 0)
        let events = try TraceReader(path: trace).readAll()
        #expect(!events.contains { $0.kind == .lost })
        let log = try Self.log(logPath)

        // Every VFIO ioctl the VMM made, in order, with its result.
        let loggedIoctls = log.filter { $0["op"] as? String == "ioctl" && ($0["name"] as? String)?.hasPrefix("VFIO") == true }
            .map { "\($0["name"]!) \($0["ret"]!)" }
        let recorded = RecordedCalls.vfioIoctls(events)
        // (device_state sets are logged as device_state by the VMM, and are device_state events in ours.)
        #expect(recorded == loggedIoctls)

        // device_state requests in order.
        let loggedStates = log.filter { $0["op"] as? String == "device_state" }.map { $0["requested"] as! Int }
        let recordedStates = events.compactMap { e -> Int? in
            if case .deviceState(let s) = e.payload, s.operation == .set { return Int(s.requested) }
            return nil
        }
        #expect(recordedStates == loggedStates)

        // mmaps (address, length), munmaps, memslots (size) and eventfd reads (value) match.
        let loggedMaps = log.filter { $0["op"] as? String == "mmap" }.map { "\($0["addr"]!) \($0["len"]!)" }
        let recordedMaps = events.compactMap { e -> String? in
            if case .mapping(let m) = e.payload, m.operation == .mmap { return "\(UInt64(bitPattern: e.result)) \(m.length)" }
            return nil
        }
        #expect(recordedMaps == loggedMaps)
        #expect(
            events.filter {
                if case .mapping(let m) = $0.payload { return m.operation == .munmap && m.device == "0000:00:05.0" } else { return false }
            }.count
                == log.filter { $0["op"] as? String == "munmap" }.count)
        let loggedSlots = log.filter { $0["op"] as? String == "memslot" }.map { $0["size"] as! Int }
        let recordedSlots = events.compactMap { e -> Int? in
            if case .memslot(let m) = e.payload { return Int(m.size) }
            return nil
        }
        #expect(recordedSlots == loggedSlots)
        let loggedReads = log.filter { $0["op"] as? String == "eventfd_read" }.map { $0["value"] as! Int }
        let recordedReads = events.compactMap { e -> Int? in
            if case .eventfd(let op) = e.payload, op.operation == .read { return Int(op.value) }
            return nil
        }
        #expect(recordedReads == loggedReads)
        // The driver thread's signal is visible as an eventfd write from another thread.
        let signals = log.filter { $0["op"] as? String == "driver_signal" }.count
        #expect(events.filter { if case .eventfd(let op) = $0.payload { return op.operation == .write } else { return false } }.count == signals)
        // Each recorded call lies inside the VMM's own [t0, t1] window for it (same CLOCK_MONOTONIC).
        if let firstLogged = log.first(where: { $0["name"] as? String == "VFIO_GET_API_VERSION" }),
            let firstRecorded = events.first(where: { if case .vfioIoctl(let io) = $0.payload { return io.request == 0x3B64 } else { return false } })
        {
            #expect(firstRecorded.time >= firstLogged["t0"] as! UInt64)
            #expect(firstRecorded.endTime <= firstLogged["t1"] as! UInt64)
        }
    }

    @Test("launch mode: only the calls of interest stop; 20 000 non-VFIO ioctls cost no stops")
    func launchFilter() throws {
        func run(ioctls: Int) throws -> (status: Int32, stops: Int, events: [TraceEvent]) {
            let trace = Self.temp("launch.vftrace")
            defer { unlink(trace) }
            let (status, err) = try Self.vfiotraceRun([
                "record", "-o", trace, "--", Self.vmm, "--scenario", "bench", "--ioctls", "\(ioctls)",
                "--eventfd-rounds", "50", "--mmaps", "10",
            ])
            let stops = err.split(separator: " ").firstIndex(of: "syscall").flatMap { i in Int(err.split(separator: " ")[i - 1]) } ?? -1
            return (status, stops, try TraceReader(path: trace).readAll())
        }
        let small = try run(ioctls: 10)
        let large = try run(ioctls: 20_000)
        let events = small.events
        #expect(small.status == 0 && large.status == 0)
        #expect(small.stops > 0)
        #expect(large.stops < small.stops + 20, "ioctls that are not VFIO/KVM must not stop (\(small.stops) vs \(large.stops))")
        let writes = events.filter { if case .eventfd(let op) = $0.payload { return op.operation == .write && op.value == 1 } else { return false } }
        let reads = events.filter { if case .eventfd(let op) = $0.payload { return op.operation == .read && op.value == 1 } else { return false } }
        #expect(writes.count == 50 && reads.count == 50)
    }

    @Test("detach: after the recorder stops, the process keeps running and exits normally; SIGKILLed recorder leaves it alive")
    func detachAndKill() throws {
        // A VMM that waits for SIGUSR1 for up to 30 s: attach, stop recording, then let it go.
        let trace = Self.temp("detach.vftrace")
        defer { unlink(trace) }
        let (p, pid) = try Self.startPaused(["--scenario", "racy"])
        let detaching = Process()
        detaching.executableURL = URL(fileURLWithPath: Self.vfiotrace)
        detaching.arguments = ["record", "-p", "\(pid)", "-o", trace, "--duration", "300ms"]
        try detaching.run()
        detaching.waitUntilExit()
        #expect(detaching.terminationStatus == 0)
        #expect(kill(pid, 0) == 0, "the process survives the detach")
        kill(pid, SIGUSR1)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(
            try TraceReader(path: trace).readAll().contains {
                if case .process(let c) = $0.payload { return c.operation == .detach } else { return false }
            })

        // SIGKILL the recorder binary while attached: no exit-kill, so the VMM lives on and the file reads back.
        let trace2 = Self.temp("killed.vftrace")
        defer { unlink(trace2) }
        let (p2, pid2) = try Self.startPaused(["--scenario", "racy"])
        let rec = Process()
        rec.executableURL = URL(fileURLWithPath: Self.vfiotrace)
        rec.arguments = ["record", "-p", "\(pid2)", "-o", trace2]
        try rec.run()
        usleep(500_000)
        kill(rec.processIdentifier, SIGKILL)
        rec.waitUntilExit()
        usleep(100_000)
        #expect(kill(pid2, 0) == 0, "the VMM survives a SIGKILLed recorder")
        kill(pid2, SIGUSR1)
        p2.waitUntilExit()
        #expect(p2.terminationStatus == 0)
        let r = try TraceReader(path: trace2)
        let events = try r.readAll()
        #expect(events.contains { if case .process(let c) = $0.payload { return c.operation == .attach } else { return false } })
        #expect(r.damage.contains { $0.code == .truncated })
    }

    @Test("launch mode: SIGTERM to the recorder goes to the command; the recorder returns its status; --duration only ends recording")
    func launchStopSignals() throws {
        let trace = Self.temp("term.vftrace")
        defer { unlink(trace) }
        let rec = Process()
        rec.executableURL = URL(fileURLWithPath: Self.vfiotrace)
        rec.arguments = [
            "record", "-o", trace, "--", Self.vmm, "--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "10000000", "--mmaps", "1",
        ]
        try rec.run()
        usleep(500_000)
        kill(rec.processIdentifier, SIGTERM)
        rec.waitUntilExit()
        #expect(rec.terminationStatus == 128 + SIGTERM, "the command died of the forwarded SIGTERM")
        let events = try TraceReader(path: trace).readAll()
        #expect(
            events.contains {
                if case .process(let c) = $0.payload { return c.operation == .exit && c.status == 128 + SIGTERM } else { return false }
            })

        // --duration in launch mode: recording stops, the command finishes its work, its status is the recorder's.
        let trace2 = Self.temp("duration.vftrace")
        defer { unlink(trace2) }
        let (status, _) = try Self.vfiotraceRun([
            "record", "-o", trace2, "--duration", "200ms", "--", Self.vmm, "--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "20000",
            "--mmaps", "1",
        ])
        #expect(status == 0)
        let reads = try TraceReader(path: trace2).readAll().filter { if case .eventfd = $0.payload { return true } else { return false } }
        #expect(reads.count > 0 && reads.count < 40_000, "recording stopped part-way: \(reads.count) of 40000 eventfd calls")
    }

    @Test("differential: the same workload under strace -f and under vfiotrace agrees on eventfd calls and results")
    func versusStrace() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else {
            print("skipping: strace not installed")
            return
        }
        let out = Self.temp("strace.txt"), trace = Self.temp("diff.vftrace")
        defer { unlink(out); unlink(trace) }
        let args = ["--scenario", "bench", "--ioctls", "100", "--eventfd-rounds", "30", "--mmaps", "5"]
        let s = Process()
        s.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        s.arguments = ["-f", "-ttt", "-e", "trace=eventfd2,read,write", "-o", out, Self.vmm] + args
        s.standardOutput = FileHandle.nullDevice
        try s.run()
        s.waitUntilExit()
        #expect(try Self.vfiotraceRun(["record", "-o", trace, "--", Self.vmm] + args).0 == 0)
        // strace: eventfd2(0, EFD_CLOEXEC) = 4 ; write(4, "\1\0\0\0\0\0\0\0", 8) = 8 ; read(4, ...) = 8
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        let efdLine = try #require(lines.first { $0.contains("eventfd2(") })
        let efd = try #require(efdLine.split(separator: "=").last.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) })
        let straceSeq = lines.compactMap { l -> String? in
            if l.contains("eventfd2(") { return "eventfd2 \(efd)" }
            for call in ["read", "write"] where l.contains(" \(call)(\(efd),") {
                return "\(call) \(efd) \(l.split(separator: "=").last!.trimmingCharacters(in: .whitespaces))"
            }
            return nil
        }
        let ours = try TraceReader(path: trace).readAll().compactMap { e -> String? in
            guard case .eventfd(let op) = e.payload else { return nil }
            switch op.operation {
            case .create: return "eventfd2 \(e.result)"
            case .read: return "read \(op.fd) \(e.result)"
            case .write: return "write \(op.fd) \(e.result)"
            }
        }
        #expect(straceSeq.count == 61)
        #expect(ours == straceSeq)
    }
}

/// A full disk stops the recording cleanly: clear message, exit 1, a readable file, and the VMM unharmed.
@Suite(.serialized) struct DiskFullTests {
    /// Mounts a 64 KiB tmpfs for `body`; nil (the test says why and returns) where mounting is not allowed.
    static func withFullDisk(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "vfiotrace-full-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { rmdir(dir) }
        guard mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0 else {
            print("skipping: cannot mount a tmpfs here (\(String(cString: strerror(errno))))")
            return
        }
        defer { umount(dir) }
        try body(dir)
    }

    /// The file holds whole chunks up to the failure and says it was cut short.
    static func expectReadableAndTruncated(_ path: String) throws {
        let r = try TraceReader(path: path)
        let events = try r.readAll()
        #expect(!events.isEmpty)
        #expect(r.damage.contains { $0.code == .truncated })
    }

    @Test("launch mode: the command runs on to its end under the recorder (its seccomp filter needs a tracer)")
    func launch() throws {
        try Self.withFullDisk { dir in
            let out = EndToEndTests.temp("vmm.out")
            defer { unlink(out) }
            let (status, err) = try EndToEndTests.vfiotraceRun([
                "record", "-o", dir + "/t.vftrace", "--", "/bin/sh", "-c",
                "\(EndToEndTests.vmm) --scenario bench --ioctls 10 --eventfd-rounds 60000 --mmaps 1 > \(out)",
            ])
            #expect(status == 1)
            #expect(err.contains("No space left on device"), "\(err)")
            #expect(err.contains("ran on under the recorder until it exited (status 0)"), "\(err)")
            // Every one of its eventfd calls still succeeded after the recording stopped.
            #expect((try? String(contentsOfFile: out, encoding: .utf8))?.contains("60000 eventfd round trips") == true)
            try Self.expectReadableAndTruncated(dir + "/t.vftrace")
        }
    }

    @Test("attach mode: the recorder detaches and the VMM, not stopped and not traced, finishes its work")
    func attach() throws {
        try Self.withFullDisk { dir in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: EndToEndTests.vmm)
            p.arguments = ["--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "100000", "--mmaps", "1", "--wait-signal"]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let ready = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
            let pid = try #require(Int32(ready.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)), "VMM said: \(ready)")
            let rec = Process()
            rec.executableURL = URL(fileURLWithPath: EndToEndTests.vfiotrace)
            rec.arguments = ["record", "-p", "\(pid)", "-o", dir + "/t.vftrace", "--duration", "60s"]
            let err = Pipe()
            rec.standardError = err
            try rec.run()
            usleep(300_000)
            kill(pid, SIGUSR1)
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            rec.waitUntilExit()
            #expect(rec.terminationStatus == 1)
            #expect(text.contains("No space left on device"), "\(text)")
            #expect(text.contains("the traced process \(pid) left running"), "\(text)")
            // The count it gives is the count the file holds (read back, not taken from the recorder).
            let claimed = text.split(separator: " ").firstIndex(of: "first").flatMap { i in UInt64(text.split(separator: " ")[i + 1]) }
            #expect(claimed != nil && claimed == (try? TraceReader(path: dir + "/t.vftrace").readAll()).map { UInt64($0.count) }, "\(text)")
            #expect(!text.contains("marked in the trace)") || text.contains("events LOST"), "\(text)")
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            // Untraced, the VMM may already have finished its work and been reaped: its exit status and output say how it ran.
            if !status.isEmpty || p.isRunning {
                #expect(status.contains("TracerPid:\t0"), "\(status)")
                #expect(!status.contains("State:\tT"), "the VMM must not be left stopped: \(status)")
            }
            let rest = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            #expect(rest.contains("100000 eventfd round trips"), "\(rest)")
            try Self.expectReadableAndTruncated(dir + "/t.vftrace")
        }
    }
}
