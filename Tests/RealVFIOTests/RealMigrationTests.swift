import Foundation
import TestSupport
import Testing
import TraceFormat

/// One run of `Scripts/guest/real-migration.sh`: QEMU's edu migrated under a real vendor driver
/// (Fixtures/EduMigrationDriver) that needs BAR0's register page trapped from DMA_LOGGING_START until the
/// migration ends — in async mode (it signals an eventfd; the VMM re-reads the layout and unmaps), in revoke
/// mode (it zaps the mappings itself), and async with a VMM 20 ms slower to react.
enum MigrationRun {
    static let delay: UInt64 = 20_000_000  // --delay-us 20000 of the async-slow run, in ns

    static let outcome: Result<String, GuestFailure> = {
        let parent = NSTemporaryDirectory() + "vfiotrace-migration-runs"
        for old in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
            try? FileManager.default.removeItem(atPath: parent + "/" + old)
        }
        let out = parent + "/\(UUID().uuidString)"
        // The module is built on the host from Debian's headers of the rig's kernel (cached after the first time).
        let build = GuestRun.repository.appendingPathComponent("Scripts/guest/build-driver.sh").path
        let (built, buildOutput) = GuestRun.run(build, [])
        guard built == 0 else { return .failure(GuestFailure(status: built, output: "build-driver.sh: \(buildOutput)", folder: out)) }
        let guest = GuestRun.repository.appendingPathComponent("Scripts/guest/real-migration.sh").path
        let (status, output) = GuestRun.run(
            GuestRun.script, ["run", "-o", out, "-t", "900", "--", "sh '\(guest)' '\(out)' '\(BuildProducts.directory.path)'"])
        guard status == 0, output.contains("done") else { return .failure(GuestFailure(status: status, output: output, folder: out)) }
        return .success(out)
    }()

    /// The analysis of run `name` with the policy this driver calls for: its requirement is in its account
    /// (trap.on/off), not in migration states; its re-evaluate interrupt is index 5; BAR0 is what it traps.
    static func analysis(_ dir: String, _ name: String) throws -> [String: Any] {
        let policy = dir + "/driver-policy.json"
        try #"{"v2TrapStates": [], "reevaluateIrqIndices": [5], "regions": [0]}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        let (_, json) = GuestRun.run(GuestRun.vfiotrace, ["analyze", "--format", "json", "--policy", policy, dir + "/\(name).vftrace"])
        guard let o = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw GuestFailure(status: 0, output: "analyze \(name): not JSON: \(json)", folder: dir)
        }
        return o
    }

    /// The driver's own account: its events (the clock line left out).
    static func account(_ dir: String, _ name: String) throws -> [[String: Any]] {
        try GuestRun.jsonLines(dir + "/\(name)-driver.jsonl").filter { $0["kind"] != nil }
    }

    static func u64(_ v: Any?) -> UInt64? { (v as? NSNumber)?.uint64Value }
}

/// The analyzer against a real driver and a VMM whose own logs say what happened: every expected value comes
/// from the driver's account (its ktime_get_ns), the client's access log (CLOCK_MONOTONIC right before and
/// after each access) and the client's action log, never from the analyzer.
@Suite(.serialized, .enabled(if: GuestRun.available, "the guest rig cannot run here: see `Scripts/vfio-guest.sh check`"))
struct RealMigrationTests {
    struct Access {
        var t0: UInt64, t: UInt64, seq: UInt64, mapped: Bool
    }

    static func accesses(_ dir: String, _ name: String) throws -> [Access] {
        try GuestRun.jsonLines(dir + "/\(name)-client.jsonl").map {
            Access(
                t0: MigrationRun.u64($0["t0"]) ?? 0, t: MigrationRun.u64($0["t"]) ?? 0, seq: MigrationRun.u64($0["seq"]) ?? 0,
                mapped: $0["path"] as? String == "mmap")
        }
    }

    /// The driver counts a trap-path access when the client's write reaches it between its trap.on and trap.off; the
    /// client's stamps bound when that was. So the driver's list holds every trap-path access made wholly inside that
    /// window, and only accesses that overlapped it (one begun just before trap.on, in the revoke run a write that
    /// faulted on the revoked mapping and went the trap path, is counted or not by the order of two CPUs' stamps).
    static func expectDriverCounted(
        _ account: [[String: Any]], _ all: [Access], on: UInt64, off: UInt64, _ name: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let counted = trappedByDriver(account)
        let trapPath = all.filter { !$0.mapped }
        let surely = Set(trapPath.filter { $0.t0 >= on && $0.t <= off }.map(\.seq))
        let maybe = Set(trapPath.filter { $0.t >= on && $0.t0 <= off }.map(\.seq))
        #expect(Set(counted).count == counted.count, "\(name): an access counted twice", sourceLocation: sourceLocation)
        #expect(surely.isSubset(of: counted), "\(name): made while required, not counted", sourceLocation: sourceLocation)
        #expect(Set(counted).isSubset(of: maybe), "\(name): counted, not made while required", sourceLocation: sourceLocation)
        #expect(counted.count - surely.count <= 2, "\(name): more than the two ends of the window uncertain", sourceLocation: sourceLocation)
    }

    static func actions(_ dir: String, _ name: String, _ action: String) throws -> [(t0: UInt64, t: UInt64, detail: String)] {
        try GuestRun.jsonLines(dir + "/\(name)-actions.jsonl").filter { $0["action"] as? String == action }.map {
            (MigrationRun.u64($0["t0"]) ?? 0, MigrationRun.u64($0["t"]) ?? 0, $0["detail"] as? String ?? "")
        }
    }

    static func time(_ account: [[String: Any]], _ kind: String) throws -> UInt64 {
        try #require(account.first { $0["kind"] as? String == kind }.flatMap { MigrationRun.u64($0["t"]) }, "no \(kind) in the account")
    }

    /// The driver's trapped accesses while it required traps, by the sequence number the client wrote.
    static func trappedByDriver(_ account: [[String: Any]]) -> [UInt64] {
        account.filter { $0["name"] as? String == "trap.access" }.compactMap {
            ($0["fields"] as? [String: Any]).flatMap { MigrationRun.u64($0["value"]) }
        }
    }

    @Test("async: one gap on BAR0's register page, from the driver's trap.on to the end of the client's munmap; the missed accesses are inside it")
    func asyncGap() throws {
        let dir = try MigrationRun.outcome.get()
        for name in ["async", "async-slow"] {
            let account = try MigrationRun.account(dir, name)
            let trapOn = try Self.time(account, "trap.on"), trapOff = try Self.time(account, "trap.off")
            let on = try #require(account.first { $0["kind"] as? String == "trap.on" })
            let r = try MigrationRun.analysis(dir, name)
            let gaps = try #require(r["gaps"] as? [[String: Any]])
            #expect(gaps.count == 1, "\(name): \(gaps)")
            let gap = try #require(gaps.first)
            #expect(MigrationRun.u64(gap["region"]) == 0)
            #expect(
                MigrationRun.u64(gap["offset"]) == MigrationRun.u64(on["offset"]) && MigrationRun.u64(gap["length"]) == MigrationRun.u64(on["length"])
            )
            // Starts at the driver's own stamp (the account is placed on the recording's clock exactly).
            #expect(MigrationRun.u64(gap["startNs"]) == trapOn, "\(name)")
            // Ends when the client's munmap of the page returned (the recorder saw it between the client's stamps).
            let unmap = try #require(Self.actions(dir, name, "munmap").first)
            let end = try #require(MigrationRun.u64(gap["endNs"]))
            #expect(unmap.t0 <= end && end <= unmap.t, "\(name): gap end \(end) outside the client's munmap [\(unmap.t0), \(unmap.t)]")

            // The driver saw exactly the trap-path accesses made while it required traps, and none of the mapped ones.
            let all = try Self.accesses(dir, name)
            Self.expectDriverCounted(account, all, on: trapOn, off: trapOff, name)
            // Every access through the mapping after trap.on was missed by the driver, and began inside the gap:
            // none began after the gap ended (the unmap closed the window for good).
            let missed = all.filter { $0.mapped && $0.t0 >= trapOn && $0.t0 <= trapOff }
            #expect(Set(missed.map(\.seq)).isDisjoint(with: Self.trappedByDriver(account)))
            #expect(missed.allSatisfy { $0.t0 <= end }, "\(name): a mapped access began after the gap's end")
            print("\(name): gap \(end - trapOn) ns, \(missed.count) accesses missed by the driver")
        }
    }

    @Test("async: remap phases equal what the driver's signal and the client's own stamps bound")
    func asyncPhases() throws {
        let dir = try MigrationRun.outcome.get()
        for name in ["async", "async-slow"] {
            let account = try MigrationRun.account(dir, name)
            let signal = try Self.time(account, "irq.signal")
            let r = try MigrationRun.analysis(dir, name)
            let triggers = try #require(r["triggers"] as? [[String: Any]])
            let t = try #require(triggers.first { $0["kind"] as? String == "signal" && MigrationRun.u64($0["timeNs"]) == signal }, "\(triggers)")
            let read = try #require(Self.actions(dir, name, "eventfd_read").first)
            let reread = try #require(Self.actions(dir, name, "region_info").first { $0.t0 > read.t0 })
            let unmap = try #require(Self.actions(dir, name, "munmap").first)
            let wake = try #require(MigrationRun.u64(t["wakeupNs"])), reeval = try #require(MigrationRun.u64(t["reevaluationNs"]))
            let effective = try #require(MigrationRun.u64(t["effectiveNs"])), total = try #require((t["latencyNs"] as? NSNumber)?.uint64Value)
            // Each phase ends at an event of the client's, recorded between the client's own stamps of it.
            func within(_ v: UInt64, _ lo: UInt64, _ hi: UInt64, _ what: String) {
                #expect(v >= lo && v <= hi, "\(name) \(what): \(v) ns not in [\(lo), \(hi)]")
            }
            func gap(_ a: UInt64, _ b: UInt64) -> UInt64 { a >= b ? a - b : 0 }
            within(wake, gap(read.t0, signal), gap(read.t, signal), "wake-up")
            within(reeval, gap(reread.t0, read.t), gap(reread.t, read.t0), "re-evaluation")
            within(effective, gap(unmap.t0, reread.t), gap(unmap.t, reread.t0), "effective")
            #expect(wake + reeval + effective == total)
            if name == "async-slow" {
                // The client slept 20 ms between its read and its re-read: the re-evaluation phase holds it.
                #expect(reeval >= MigrationRun.delay, "re-evaluation \(reeval) ns")
                #expect(total >= MigrationRun.delay)
            }
        }
    }

    @Test("revoke: the driver's revocation leaves no gap, and no access reached the device through the mapping while required")
    func revoke() throws {
        let dir = try MigrationRun.outcome.get()
        let account = try MigrationRun.account(dir, "revoke")
        let trapOn = try Self.time(account, "trap.on"), trapOff = try Self.time(account, "trap.off")
        #expect(try Self.time(account, "mmap.revoke") <= trapOn, "the driver revokes before it requires")
        let r = try MigrationRun.analysis(dir, "revoke")
        #expect((r["gaps"] as? [Any])?.count == 0)
        #expect(r["verdict"] as? String == "pass")
        let all = try Self.accesses(dir, "revoke")
        #expect(!all.contains { $0.mapped && $0.t0 >= trapOn && $0.t0 <= trapOff }, "a mapped access while the mapping was revoked")
        #expect(all.contains { !$0.mapped && $0.t0 >= trapOn && $0.t <= trapOff }, "no trap-path access while required")
        Self.expectDriverCounted(account, all, on: trapOn, off: trapOff, "revoke")
    }

    @Test("the migration arcs the client drove are decoded by name from its real VFIO_DEVICE_FEATURE calls")
    func arcs() throws {
        let dir = try MigrationRun.outcome.get()
        for name in ["async", "revoke"] {
            let logged = try Self.actions(dir, name, "set_state").map { String($0.detail.prefix { $0 != " " }) }
            #expect(logged == ["STOP", "STOP_COPY", "STOP", "RUNNING"])
            let events = try TraceReader(path: dir + "/\(name)-recorded.vftrace").readAll()
            let recorded = events.compactMap { e -> String? in
                guard case .deviceState(let s) = e.payload, s.operation == .set else { return nil }
                return MigrationStateNames.name(s.requested, protocol: s.migrationProtocol)
            }
            #expect(recorded == logged, "\(name)")
            let dump = try GuestRun.vfiotrace(["dump", "--kind", "vfio_ioctl", dir + "/\(name)-recorded.vftrace"])
            #expect(dump.contains("SET|DMA_LOGGING_START, page_size=0x1000, num_ranges=1"))
            #expect(dump.contains("SET|DMA_LOGGING_STOP"))
        }
    }
}
