import Foundation
import TestSupport
import Testing
import TraceFormat

/// One boot of the trixie profile running `Scripts/guest/real-qemu-migration.sh` twice: Debian trixie's unmodified
/// QEMU 10 migrates edu under the vendor driver (Fixtures/EduMigrationDriver) to a file, in async and revoke mode
/// (and once with QEMU's own vfio-pci defaults), recorded with the ptrace backend; then async and revoke again,
/// recorded with the eBPF backend, into the folder's `bpf/` (`RealQEMUBPFTests`). Minutes under TCG (trixie's
/// kernel and root, the driver built in that root, five migrations), so it runs only when asked:
/// `VFIOTRACE_REAL_QEMU=1 swift test --filter RealQEMU`.
enum QEMUMigrationRun {
    static let requested = ProcessInfo.processInfo.environment["VFIOTRACE_REAL_QEMU"] == "1"

    /// The folder of the ptrace pass, or why the guest could not get through it.
    static var outcome: Result<String, GuestFailure> { run }

    /// The folder of the eBPF pass (`bpf/` of the run's), or why it failed: its output is `bpf/run.txt`.
    static var bpfOutcome: Result<String, GuestFailure> {
        run.flatMap { out in
            let output = GuestRun.text(out, "bpf/run.txt")
            guard output.contains("done") else { return .failure(GuestFailure(status: 1, output: "the eBPF pass: \(output)", folder: out)) }
            return .success(out + "/bpf")
        }
    }

    private static let run: Result<String, GuestFailure> = {
        let out = NSTemporaryDirectory() + "vfiotrace-qemu-migration-\(UUID().uuidString)"
        let driver = GuestRun.repository.appendingPathComponent("Scripts/guest/build-driver.sh").path
        let (built, buildOutput) = GuestRun.run(driver, ["--profile", "trixie"])
        guard built == 0 else {
            return .failure(GuestFailure(status: built, output: "build-driver.sh --profile trixie: \(buildOutput)", folder: out))
        }
        let guest = GuestRun.repository.appendingPathComponent("Scripts/guest/real-qemu-migration.sh").path
        let build = BuildProducts.directory.path
        // The eBPF pass runs whatever the ptrace pass gave; the command's status and "done" are the ptrace pass's.
        let command = """
            sh '\(guest)' '\(out)' '\(build)'; s=$?; mkdir -p '\(out)/bpf'; \
            QEMU_MIG_BACKEND=bpf QEMU_MIG_RUNS='async revoke' sh '\(guest)' '\(out)/bpf' '\(build)' > '\(out)/bpf/run.txt' 2>&1; exit $s
            """
        let (status, output) = GuestRun.run(GuestRun.script, ["--profile", "trixie", "run", "-o", out, "-t", "2400", "--", command])
        guard status == 0, output.contains("done") else { return .failure(GuestFailure(status: status, output: output, folder: out)) }
        return .success(out)
    }()
}

/// What an existing VMM does when the device needs traps, checked against QEMU's own trace log and the
/// driver's account, never against the analyzer's output.
@Suite(
    .serialized,
    .enabled(if: QEMUMigrationRun.requested && GuestRun.available, "set VFIOTRACE_REAL_QEMU=1 to run QEMU 10's migrations in the trixie guest"))
struct RealQEMUMigrationTests {
    /// The driver's policy: its requirement is in its account; its re-evaluate interrupt is index 5.
    static func analysis(_ dir: String, _ name: String) throws -> [String: Any] {
        let policy = dir + "/driver-policy.json"
        try #"{"v2TrapStates": [], "reevaluateIrqIndices": [5], "regions": [0]}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        let (_, json) = GuestRun.run(GuestRun.vfiotrace, ["analyze", "--format", "json", "--policy", policy, dir + "/\(name).vftrace"])
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "analyze \(name): \(json)")
    }

    static func account(_ dir: String, _ mode: String) throws -> [[String: Any]] {
        try GuestRun.jsonLines(dir + "/qemu-\(mode)-driver.jsonl").filter { $0["kind"] != nil }
    }

    /// The arcs from QEMU's log (vfio_migration_set_state): consecutive repeats are one state, and the first
    /// RUNNING is where the device already is (QEMU issues no ioctl for it).
    static func loggedStates(_ dir: String, _ name: String) -> [String] {
        var logged: [String] = []
        for line in GuestRun.text(dir, "\(name).log").split(separator: "\n") where line.contains("vfio_migration_set_state") {
            guard let r = line.range(of: "new state ") else { continue }
            let state = String(line[r.upperBound...].prefix { $0 != "," && $0 != " " })
            if logged.last != state { logged.append(state) }
        }
        if logged.first == "RUNNING" { logged.removeFirst() }
        return logged
    }

    /// The device_state sets the recorder decoded from QEMU's real VFIO_DEVICE_FEATURE calls.
    static func recordedStates(_ dir: String, _ name: String) throws -> [String] {
        try TraceReader(path: dir + "/\(name)-recorded.vftrace").readAll().compactMap { e -> String? in
            guard case .deviceState(let s) = e.payload, s.operation == .set else { return nil }
            return MigrationStateNames.name(s.requested, protocol: s.migrationProtocol)
        }
    }

    static func time(_ account: [[String: Any]], _ kind: String) -> UInt64? {
        account.first { $0["kind"] as? String == kind }.flatMap { ($0["t"] as? NSNumber)?.uint64Value }
    }

    @Test(
        "async: QEMU drives PRE_COPY, STOP_COPY, STOP as its own log says, never binds the re-evaluate index, and BAR0 stays reachable for the whole requirement"
    )
    func async() throws {
        let dir = try QEMUMigrationRun.outcome.get()
        let logged = Self.loggedStates(dir, "qemu-async")
        #expect(logged == ["PRE_COPY", "STOP_COPY", "STOP"])
        #expect(try Self.recordedStates(dir, "qemu-async") == logged)

        let account = try Self.account(dir, "async")
        let trapOn = try #require(Self.time(account, "trap.on")), trapOff = try #require(Self.time(account, "trap.off"))
        let unbound = account.filter { $0["name"] as? String == "irq.unbound" }.count
        #expect(unbound > 0, "the driver found no eventfd on index 5")
        let r = try Self.analysis(dir, "qemu-async")
        let gaps = try #require(r["gaps"] as? [[String: Any]])
        #expect(gaps.count == 1)
        // QEMU never unmaps: the gap runs from the driver's requirement to its end (the device's close at quit).
        #expect((gaps.first?["startNs"] as? NSNumber)?.uint64Value == trapOn)
        #expect((gaps.first?["endNs"] as? NSNumber)?.uint64Value == trapOff)
        let findings = try #require(r["findings"] as? [[String: Any]])
        let notBound = findings.filter { $0["kind"] as? String == "reevaluate-not-bound" }
        #expect(notBound.count == 1)
        #expect((notBound.first?["message"] as? String)?.contains("asked the VMM \(unbound == 1 ? "once" : "\(unbound) times")") == true)
    }

    @Test("revoke: no gap, but QEMU is killed by SIGBUS on the revoked mapping, and the analysis says so")
    func revoke() throws {
        let dir = try QEMUMigrationRun.outcome.get()
        let account = try Self.account(dir, "revoke")
        let trapOn = try #require(Self.time(account, "trap.on")), revoke = try #require(Self.time(account, "mmap.revoke"))
        #expect(revoke <= trapOn)
        // The recorder passes QEMU's own end on: 128 + SIGBUS (7).
        let status = GuestRun.text(dir, "qemu-revoke.status").trimmingCharacters(in: .whitespacesAndNewlines)
        let r = try Self.analysis(dir, "qemu-revoke")
        #expect((r["gaps"] as? [Any])?.count == 0)
        let killed = (r["findings"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "vmm-killed" }
        if status == "135" {
            #expect(killed.count == 1)
            #expect((killed.first?["message"] as? String)?.contains("killed by SIGBUS") == true)
        } else {
            // QEMU survived this time (the fault depends on a monitor read racing the zap): nothing to blame.
            #expect(killed.isEmpty, "QEMU's status \(status)")
        }
    }

    @Test(
        "QEMU's defaults: it starts the driver's DMA logging (decoded from its real ioctl) and fails the migration at the first report, as its monitor says"
    )
    func deviceDirtyTracking() throws {
        let dir = try QEMUMigrationRun.outcome.get()
        // QEMU's own words for the failure.
        let monitor = GuestRun.text(dir, "qemu-devdirty-monitor.txt")
        #expect(monitor.contains("failed (ram_save_setup failed: Operation not supported)"))
        // (Read as far as it is intact, whatever QEMU's end did to the recording.)
        let (_, dump) = GuestRun.run(GuestRun.vfiotrace, ["dump", "--kind", "vfio_ioctl", dir + "/qemu-devdirty-recorded.vftrace"])
        let lines = dump.split(separator: "\n")
        // QEMU probes the feature, then starts DMA logging for real; every dirty-page report fails with the
        // errno QEMU printed (EOPNOTSUPP is "Operation not supported").
        #expect(lines.contains { $0.contains("{flags=PROBE|DMA_LOGGING_START}) = 0") })
        let start = try #require(lines.first { $0.contains("{flags=SET|DMA_LOGGING_START, page_size=0x1000") })
        #expect(start.contains(") = 0"))
        let reports = lines.filter { $0.contains("flags=GET|DMA_LOGGING_REPORT") }
        #expect(!reports.isEmpty && reports.allSatisfy { $0.contains("= -1 EOPNOTSUPP") })
        // The migration never reached a saving state: the arcs are QEMU's own (its log), none of them PRE_COPY or
        // STOP_COPY (the device is only stopped when QEMU quits).
        let logged = Self.loggedStates(dir, "qemu-devdirty")
        #expect(try Self.recordedStates(dir, "qemu-devdirty") == logged)
        #expect(!logged.contains("PRE_COPY") && !logged.contains("STOP_COPY"))
    }
}
