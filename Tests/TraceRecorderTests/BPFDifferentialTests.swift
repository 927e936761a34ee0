import Foundation
import TestSupport
import Testing
import TraceFormat

@testable import TraceRecorder

/// Whether the eBPF program loads here (root or CAP_BPF+CAP_PERFMON, a kernel with BTF, x86_64).
enum BPFAvailability {
    /// nil when it loads; else why not, printed once so the skip is explained.
    static let reason: String? = {
        var settings = BPFProgram.Settings()
        settings.ringBytes = 1 << 16
        do {
            _ = try BPFProgram(settings)
            return nil
        } catch {
            print("BPF tests skipped: \(error)")
            return "\(error)"
        }
    }()
    static var loads: Bool { reason == nil }
}

/// The eBPF backend against the ptrace one on the same process at the same time: both recorders attach to one
/// paused test VMM (a BPF program does not mind a ptracer), then it runs its scenario. Times aside, every thread's
/// events must be the same, with these legitimate differences:
/// - `KVM_RUN`: the ptrace recorder in attach mode stops at every call and records it; the BPF program drops it
///   in the kernel (as launch mode's seccomp filter does), so it is left out of the comparison;
/// - the kernel-side markers (`--kvm-events`: KVM's and vfio-pci's own events), which only the BPF program sees;
/// - calls a seccomp filter answers without running them (the test VMM's emulated VFIO device, through seccomp
///   user notification) never reach the sys_enter tracepoint: the BPF record has their exit time only.
@Suite(.serialized, .enabled(if: BPFAvailability.loads, "the BPF program cannot load here (not root, no BTF, not x86_64): see the printed reason"))
struct BPFDifferentialTests {
    static var kvmWorks: Bool { access("/dev/kvm", R_OK | W_OK) == 0 }

    static let scenarios: [[String]] = [
        ["--scenario", "racy"], ["--scenario", "safe"], ["--scenario", "v1"], ["--scenario", "v2"], ["--scenario", "lost-signal"],
        ["--scenario", "bench", "--ioctls", "200", "--eventfd-rounds", "300", "--mmaps", "20", "--kvm-exits", kvmWorks ? "500" : "0"],
    ]

    /// Starts `vfiotrace ARGS` and waits until its trace holds its first events (the attach or the spawn).
    static func startRecorder(_ args: [String], trace: String) throws -> Process {
        let rec = Process()
        rec.executableURL = URL(fileURLWithPath: EndToEndTests.vfiotrace)
        rec.arguments = args
        rec.standardError = FileHandle.nullDevice
        try rec.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let r = try? TraceReader(path: trace), let events = try? r.readAll(), !events.isEmpty { break }
            usleep(20_000)
        }
        return rec
    }

    /// Each thread's events with times left out (KVM_RUN dropped), as comparable lines.
    static func perThread(_ events: [TraceEvent]) -> [Int32: [String]] {
        var out: [Int32: [String]] = [:]
        for e in events {
            if case .ioctl(let io) = e.payload, io.request == VFIOLayout.kvmRun { continue }
            // The kernel's own events (--kvm-events) only the BPF backend sees.
            if case .marker(let m) = e.payload, m.source == "kvm" || m.source == "kernel" { continue }
            // So are the memslots made before an attach (its memslot snapshot).
            if case .memslot(let s) = e.payload, s.flags & Memslot.existingAtAttach != 0 { continue }
            out[e.tid, default: []].append("\(e.pid) \(e.result) \(e.payload)")
        }
        return out
    }

    /// `vfiotrace analyze --format json`, times left out: verdict, gaps per device, findings' kinds and devices.
    static func analysis(_ trace: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: EndToEndTests.vfiotrace)
        p.arguments = ["analyze", "--format", "json", trace]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let json = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let devices = (json["devices"] as? [[String: Any]] ?? []).map { "\($0["device"] ?? "") gaps \($0["gaps"] ?? "")" }
        let findings = (json["findings"] as? [[String: Any]] ?? []).map { "\($0["device"] ?? "") \($0["kind"] ?? "") \($0["severity"] ?? "")" }
        return ["verdict \(json["verdict"] ?? "")", "status \(p.terminationStatus)"] + devices + findings.sorted()
    }

    @Test("attach: the bpf and ptrace backends record the same events of the same VMM, thread by thread", arguments: scenarios)
    func sameEvents(vmmArgs: [String]) throws {
        let bpfTrace = EndToEndTests.temp("bpf.vftrace"), ptraceTrace = EndToEndTests.temp("ptrace.vftrace")
        defer { unlink(bpfTrace); unlink(ptraceTrace) }
        let (vmm, pid) = try EndToEndTests.startPaused(vmmArgs)
        let bpf = try Self.startRecorder(["record", "--backend", "bpf", "-p", "\(pid)", "-o", bpfTrace, "--duration", "60s"], trace: bpfTrace)
        let ptrace = try Self.startRecorder(["record", "-p", "\(pid)", "-o", ptraceTrace, "--duration", "60s"], trace: ptraceTrace)
        kill(pid, SIGUSR1)
        vmm.waitUntilExit()
        bpf.waitUntilExit()
        ptrace.waitUntilExit()
        #expect(vmm.terminationStatus == 0)
        #expect(bpf.terminationStatus == 0)
        #expect(ptrace.terminationStatus == 0)
        let viaBPF = try TraceReader(path: bpfTrace).readAll(), viaPtrace = try TraceReader(path: ptraceTrace).readAll()
        #expect(!viaBPF.contains { $0.kind == .lost })
        #expect(!viaBPF.contains { if case .ioctl(let io) = $0.payload { io.request == VFIOLayout.kvmRun } else { false } })
        let a = Self.perThread(viaBPF), b = Self.perThread(viaPtrace)
        #expect(a.keys.sorted() == b.keys.sorted())
        for tid in Set(a.keys).union(b.keys).sorted() {
            #expect(a[tid] ?? [] == b[tid] ?? [], "thread \(tid)")
        }
        #expect(viaBPF.count > 5)
        // The analyzer finds the same gaps and findings in both (their durations differ: ptrace slows the VMM).
        #expect(try Self.analysis(bpfTrace) == Self.analysis(ptraceTrace))
        // Each call's times lie within the recording, entry before exit, in the same clock as the ptrace ones.
        for e in viaBPF { #expect(e.time <= e.endTime) }
        if let first = viaBPF.first, let last = viaPtrace.last { #expect(first.time <= last.endTime) }
    }

    @Test("launch: the emulated device's calls, answered by the VMM's own seccomp filter, are recorded as the VMM logged them")
    func launchSeesSeccompAnsweredCalls() throws {
        let trace = EndToEndTests.temp("launch.vftrace"), logPath = EndToEndTests.temp("vmm.jsonl")
        defer { unlink(trace); unlink(logPath) }
        let (status, err) = try EndToEndTests.vfiotraceRun([
            "record", "--backend", "bpf", "-o", trace, "--", EndToEndTests.vmm, "--scenario", "racy", "--log", logPath,
        ])
        #expect(status == 0, "\(err)")
        let events = try TraceReader(path: trace).readAll()
        let logged = try EndToEndTests.log(logPath).filter { $0["op"] as? String == "ioctl" && ($0["name"] as? String)?.hasPrefix("VFIO") == true }
            .map { "\($0["name"]!) \($0["ret"]!)" }
        #expect(RecordedCalls.vfioIoctls(events) == logged)
        #expect(!logged.isEmpty)
        #expect(events.first.map { if case .process(let p) = $0.payload { p.operation == .spawn } else { false } } == true)
    }

    @Test("a full ring: lost events with counts, never a blocked VMM; every eventfd call is either recorded or counted")
    func fullRing() throws {
        let trace = EndToEndTests.temp("ring.vftrace")
        defer { unlink(trace) }
        let (status, err) = try EndToEndTests.vfiotraceRun([
            "record", "--backend", "bpf", "--bpf-ring-kib", "4", "-o", trace, "--", EndToEndTests.vmm, "--scenario", "bench",
            "--ioctls", "0", "--eventfd-rounds", "20000", "--mmaps", "0",
        ])
        #expect(status == 0)
        #expect(err.contains("LOST in the kernel"), "\(err)")
        let events = try TraceReader(path: trace).readAll()
        let lost = events.reduce(UInt64(0)) { n, e in if case .lost(let l) = e.payload { n + l.count } else { n } }
        let eventfds = events.filter { $0.kind == .eventfd }.count
        #expect(lost > 0)
        // 20 000 writes and 20 000 reads, plus the eventfd2 calls and the loader's own traced calls.
        #expect(UInt64(eventfds) + lost >= 40_000)
    }

    @Test("the recorder killed (SIGKILL) mid-recording: the VMM runs on to its normal end")
    func killedRecorder() throws {
        let trace = EndToEndTests.temp("killed.vftrace")
        defer { unlink(trace) }
        let (vmm, pid) = try EndToEndTests.startPaused(["--scenario", "bench", "--ioctls", "10", "--eventfd-rounds", "100000", "--mmaps", "1"])
        let rec = try Self.startRecorder(["record", "--backend", "bpf", "-p", "\(pid)", "-o", trace], trace: trace)
        kill(pid, SIGUSR1)
        usleep(100_000)
        kill(rec.processIdentifier, SIGKILL)
        rec.waitUntilExit()
        vmm.waitUntilExit()
        #expect(vmm.terminationStatus == 0)
        #expect(rec.terminationReason == .uncaughtSignal)
    }

    @Test("auto: says on stderr which backend records")
    func autoSaysWhich() throws {
        let trace = EndToEndTests.temp("auto.vftrace")
        defer { unlink(trace) }
        let (status, err) = try EndToEndTests.vfiotraceRun([
            "record", "--backend", "auto", "-o", trace, "--", EndToEndTests.vmm, "--scenario", "safe",
        ])
        #expect(status == 0)
        #expect(err.contains("recording with the bpf backend"), "\(err)")
    }
}

/// Where BPF cannot load, `--backend bpf` says why and records nothing, and `--backend auto` records with ptrace,
/// saying why: checked by running the recorder as an unprivileged user (needs root to switch, and setpriv).
@Suite(.serialized, .enabled(if: geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root and setpriv to run as nobody"))
struct BPFNotPermittedTests {
    @Test("not permitted: bpf fails with status 2 and the reason; auto falls back to ptrace and says so")
    func notPermitted() throws {
        let dir = NSTemporaryDirectory() + "vfiotrace-bpf-nobody-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o777)
        let binary = dir + "/vfiotrace"
        try FileManager.default.copyItem(atPath: EndToEndTests.vfiotrace, toPath: binary)
        func asNobody(_ args: [String]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + args
            let err = Pipe()
            p.standardError = err
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, text)
        }
        let (status, err) = try asNobody(["record", "--backend", "bpf", "-o", dir + "/bpf.vftrace", "--", "/bin/true"])
        #expect(status == 2)
        #expect(err.contains("the bpf backend cannot record here"), "\(err)")
        #expect(err.contains("needs root or CAP_BPF"), "\(err)")
        #expect(access(dir + "/bpf.vftrace", F_OK) != 0)
        let (autoStatus, autoErr) = try asNobody(["record", "--backend", "auto", "-o", dir + "/auto.vftrace", "--", "/bin/true"])
        #expect(autoStatus == 0)
        #expect(autoErr.contains("recording with ptrace: the bpf backend cannot record here"), "\(autoErr)")
        #expect(autoErr.contains("syscall stops"), "\(autoErr)")
    }
}
