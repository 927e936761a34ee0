import Foundation
import TestSupport
import Testing
import TraceFormat

/// The recorder and the analyzer against a real vfio-pci driver and a real, unmodified QEMU, in the
/// throwaway guest of `Scripts/vfio-guest.sh`. Expected values come from the other side of each
/// exchange: the client's own log, QEMU's trace log, the kernel's ftrace.
@Suite(.serialized, .enabled(if: GuestRun.available, "the guest rig cannot run here: see `Scripts/vfio-guest.sh check`"))
struct RealVFIOTests {
    @Test("real driver: every call of the VFIO client is decoded as the client itself logged it")
    func client() throws {
        let dir = try GuestRun.folder()
        #expect(GuestRun.text(dir, "client.status").hasPrefix("0"), "client: \(GuestRun.text(dir, "client.txt"))")
        let log = try GuestRun.jsonLines(dir + "/client.jsonl")
        let events = try TraceReader(path: dir + "/client.vftrace").readAll()
        #expect(!events.contains { $0.kind == .lost })

        // The ioctls, by name, with their results, in order.
        let logged = log.filter { $0["op"] as? String == "ioctl" }.map { "\($0["name"]!) \($0["ret"]!)" }
        #expect(logged.count == 12)  // GET_API_VERSION … SET_IRQS, counted in Fixtures/VFIOClient/main.c
        #expect(RecordedCalls.vfioIoctls(events) == logged)

        // The device fd came from GROUP_GET_DEVICE_FD with the device's name.
        let opened = events.compactMap { e -> DeviceOpen? in if case .deviceOpen(let d) = e.payload, d.groupFd >= 0 { return d } else { return nil } }
        let bdf = try #require(log.first { $0["name"] as? String == "VFIO_GROUP_GET_DEVICE_FD" }?["device"] as? String)
        #expect(opened.map(\.device) == [bdf])

        // Region info: size, offset and flags as the kernel returned them to the client.
        let loggedRegions = log.filter { $0["op"] as? String == "region_info" }.map {
            "\($0["index"]!) \($0["size"]!) \($0["offset"]!) \($0["flags"]!)"
        }
        let regions = events.compactMap { e -> String? in
            if case .regionInfo(let r) = e.payload { return "\(r.index) \(r.size) \(r.offset) \(r.flags)" } else { return nil }
        }
        #expect(regions == loggedRegions)

        // SET_IRQS: MSI bound to the client's eventfd, then unbound.
        let loggedIrqs = log.filter { $0["op"] as? String == "set_irqs" }.map { "\($0["index"]!) \($0["count"]!) \(($0["fds"] as? [Int]) ?? [-1])" }
        let irqs = events.compactMap { e -> String? in
            if case .irqBinding(let b) = e.payload { return "\(b.index) \(b.count) \(b.eventfds.map(Int.init))" } else { return nil }
        }
        #expect(irqs == loggedIrqs)

        // The BAR0 mapping (address, length, region) and its munmap.
        let loggedMap = try #require(log.first { $0["op"] as? String == "mmap" })
        let maps = events.compactMap { e -> (MappingChange, Int64)? in
            if case .mapping(let m) = e.payload, !m.device.isEmpty { return (m, e.result) } else { return nil }
        }
        #expect(maps.count == 2)
        #expect(maps.first?.0.operation == .mmap && maps.first?.0.region == 0 && maps.first?.0.device == bdf)
        #expect(maps.first.map { UInt64(bitPattern: $0.1) } == loggedMap["addr"] as? UInt64)
        #expect(maps.first?.0.length == loggedMap["len"] as? UInt64)
        #expect(maps.last?.0.operation == .munmap)

        // The interrupt the kernel signalled, as the client read it from the eventfd.
        let loggedRead = try #require(log.first { $0["op"] as? String == "eventfd_read" })
        let reads = events.compactMap { e -> EventfdOp? in
            if case .eventfd(let op) = e.payload, op.operation == .read { return op } else { return nil }
        }
        #expect(reads.map(\.value) == [loggedRead["value"] as! UInt64])
        #expect(reads.map(\.fd) == [Int32(loggedRead["fd"] as! Int)])

        // Trap-path accesses: the config-space command register, then BAR0 reads and writes, with their values.
        let loggedAccesses = log.filter { ["pread", "pwrite"].contains($0["op"] as? String) }.map { "\($0["op"]!) \($0["len"]!) \($0["value"]!)" }
        let accesses = events.compactMap { e -> String? in
            if case .regionAccess(let a) = e.payload {
                return "\(a.operation == .write ? "pwrite" : "pread") \(a.length) \(a.value)"
            } else {
                return nil
            }
        }
        #expect(accesses == loggedAccesses)
    }

    @Test("real QEMU, launch mode: the VFIO setup is decoded by name; SIGTERM to the recorder ends QEMU cleanly")
    func qemuLaunch() throws {
        let dir = try GuestRun.folder()
        #expect(GuestRun.text(dir, "launch.status").hasPrefix("0"), "\(GuestRun.text(dir, "launch.txt"))")
        #expect(GuestRun.text(dir, "launch.txt").contains("terminating on signal 15"))
        let events = try TraceReader(path: dir + "/launch.vftrace").readAll()
        let names = RecordedCalls.vfioIoctls(events).map { $0.split(separator: " ")[0] }
        // QEMU's vfio-pci realize, in this order (hw/vfio/common.c and pci.c).
        let setup = [
            "VFIO_GROUP_GET_STATUS", "VFIO_GET_API_VERSION", "VFIO_CHECK_EXTENSION", "VFIO_GROUP_SET_CONTAINER", "VFIO_SET_IOMMU",
            "VFIO_IOMMU_GET_INFO", "VFIO_IOMMU_MAP_DMA", "VFIO_GROUP_GET_DEVICE_FD", "VFIO_DEVICE_GET_INFO", "VFIO_DEVICE_GET_REGION_INFO",
            "VFIO_DEVICE_SET_IRQS",
        ]
        var cursor = names.startIndex
        for step in setup {
            let found = names[cursor...].firstIndex { $0 == step }
            #expect(found != nil, "\(step) missing after \(names[..<cursor].suffix(3))")
            cursor = found.map { names.index(after: $0) } ?? cursor
        }
        // No VFIO ioctl left without a name, on any fd kind.
        #expect(!names.contains { $0.contains("?") || $0.hasPrefix("0x") })
        // BAR0: 1 MiB, mmappable, mapped by QEMU; INTx bound to an eventfd.
        let bar0 = events.compactMap { e -> RegionInfo? in if case .regionInfo(let r) = e.payload, r.index == 0 { return r } else { return nil } }
        #expect(bar0.first?.size == 0x10_0000 && (bar0.first.map { $0.flags & 0x4 != 0 } ?? false))
        #expect(
            events.contains {
                if case .mapping(let m) = $0.payload { return m.operation == .mmap && m.region == 0 && m.length == 0x10_0000 } else { return false }
            })
        #expect(events.contains { if case .irqBinding(let b) = $0.payload { return b.index == 0 && b.eventfds.count == 1 } else { return false } })
        #expect(events.contains { if case .process(let p) = $0.payload { return p.operation == .exit && p.status == 0 } else { return false } })
    }

    @Test("real QEMU, attach mode: a hot-plugged device is recorded; after the detach QEMU still answers and quits normally")
    func qemuAttach() throws {
        let dir = try GuestRun.folder()
        #expect(GuestRun.text(dir, "attach.status").hasPrefix("0"), "\(GuestRun.text(dir, "attach.txt"))")
        #expect(GuestRun.text(dir, "attach-after.txt") == "alive\nanswered\n")
        #expect(GuestRun.text(dir, "attach-qemu.status").hasPrefix("0"))
        let events = try TraceReader(path: dir + "/attach.vftrace").readAll()
        let ops = events.compactMap { e -> ProcessChange.Operation? in if case .process(let p) = e.payload { return p.operation } else { return nil }
        }
        #expect(ops.first == .attach && ops.last == .detach)
        let names = Set(RecordedCalls.vfioIoctls(events).map { $0.split(separator: " ")[0] })
        for name in [
            "VFIO_GROUP_SET_CONTAINER", "VFIO_SET_IOMMU", "VFIO_IOMMU_MAP_DMA", "VFIO_GROUP_GET_DEVICE_FD", "VFIO_DEVICE_GET_REGION_INFO",
            "VFIO_DEVICE_SET_IRQS",
        ] {
            #expect(names.contains(Substring(name)), "\(name) not recorded during the hot-plug")
        }
    }

    /// A time in QEMU's wall-clock log (`PID@SEC.USEC:event …`, first line containing `what`) on the recording's
    /// monotonic timeline, as docs/IMPORT.md defines it: t - (realtime - monotonic) of the recording's clock pair.
    static func qemuTime(_ log: String, _ what: String, clock: ClockSample) throws -> UInt64 {
        let line = try #require(log.split(separator: "\n").first { $0.contains(what) }, "no '\(what)' in QEMU's log")
        let wall = line.split(separator: "@")[1].split(separator: ":")[0].split(separator: ".")
        let wallNs = Int64(wall[0])! * 1_000_000_000 + Int64(wall[1])! * 1000
        return UInt64(wallNs - (Int64(bitPattern: clock.realtimeNs) - Int64(bitPattern: clock.monotonicNs)))
    }

    /// The kernel's INTx handler time from ftrace text (trace_clock mono: seconds with a fraction).
    static func kernelTime(_ ftrace: String) throws -> UInt64 {
        let line = try #require(ftrace.split(separator: "\n").first { $0.contains("irq_handler_entry") && $0.contains("vfio-intx(") })
        let stamp = try #require(line.split(separator: " ").first { $0.hasSuffix(":") && $0.contains(".") && $0.first!.isNumber })
        let parts = stamp.dropLast().split(separator: ".")
        return UInt64(parts[0])! * 1_000_000_000 + UInt64(parts[1].padding(toLength: 9, withPad: "0", startingAt: 0))!
    }

    @Test(
        "a real INTx trap switch: kernel signal (ftrace), QEMU's wake-up, mmaps disabled (QEMU log): one gap, phase by phase",
        arguments: [
            ("launch", "launch.vftrace", "qemu-launch.log", "ftrace.txt"),
            ("attached after setup", "late.vftrace", "qemu-late.log", "ftrace-late.txt"),
        ])
    func intxTrapSwitch(mode: String, trace: String, qemuLog: String, ftrace: String) throws {
        let dir = try GuestRun.folder()
        // Ground truth from each source's own text.
        let kernelNs = try Self.kernelTime(GuestRun.text(dir, ftrace))
        let recording = try TraceReader(path: dir + "/" + trace)
        let log = GuestRun.text(dir, qemuLog)
        let disabledNs = try Self.qemuTime(log, "mmaps enabled: 0", clock: recording.header.startClock)
        let events = try recording.readAll()
        // The wake-up: the earlier of QEMU's read of the INTx eventfd (where the binding was recorded; the
        // recorder sees it return at its exit stop, a little late) and QEMU's own vfio_intx_interrupt line,
        // logged right after that read returned (docs/ANALYSIS.md, "handled").
        let handledNs = try Self.qemuTime(log, "vfio_intx_interrupt", clock: recording.header.startClock)
        let intxFds = Set(
            events.compactMap { e -> Int32? in if case .irqBinding(let b) = e.payload, b.index == 0 { return b.eventfds.first } else { return nil } })
        let wakeNs: UInt64
        if intxFds.isEmpty {
            wakeNs = handledNs
            // What the attach recovered: the device's name (from its IOMMU group) and its BAR0 mapping.
            let adopted = events.compactMap { e -> MappingChange? in
                if case .mapping(let m) = e.payload, m.flags & MappingChange.adoptedAtAttach != 0 { return m } else { return nil }
            }
            #expect(adopted.map { "\($0.device) \($0.region) \($0.regionOffset) \($0.length)" } == ["\(GuestRun.bdf(dir)) 0 0 1048576"])
        } else {
            let read = try #require(
                events.first { e in
                    if case .eventfd(let op) = e.payload { return op.operation == .read && intxFds.contains(op.fd) && e.time > kernelNs }
                    return false
                })
            wakeNs = min(read.endTime, handledNs)
        }
        // The phases below are differences of these: checked first, so that a broken order fails here, not by a trap.
        try #require(kernelNs < wakeNs && wakeNs < disabledNs, "the kernel signals, QEMU wakes, then disables the mmaps")

        let prefix = dir + "/" + trace.replacingOccurrences(of: ".vftrace", with: "")
        try GuestRun.vfiotrace(["import", "ftrace", dir + "/" + ftrace, "--clock-from", dir + "/" + trace, "-o", prefix + "-kernel.vftrace"])
        try GuestRun.vfiotrace(["import", "qemu-trace", dir + "/" + qemuLog, "-o", prefix + "-qemu.vftrace"])
        try GuestRun.vfiotrace(["merge", dir + "/" + trace, prefix + "-qemu.vftrace", prefix + "-kernel.vftrace", "-o", prefix + "-merged.vftrace"])
        try #"{"reevaluateIrqIndices": [0], "expectLayoutReread": false}"#.write(toFile: dir + "/intx-policy.json", atomically: true, encoding: .utf8)
        let json = try GuestRun.vfiotrace(
            ["analyze", "--policy", dir + "/intx-policy.json", "--format", "json", prefix + "-merged.vftrace"], expect: 1)
        let start = try #require(json.firstIndex(of: "{"))
        let result = try #require(try JSONSerialization.jsonObject(with: Data(json[start...].utf8)) as? [String: Any])

        let gaps = try #require(result["gaps"] as? [[String: Any]])
        #expect(gaps.count == 1, "\(mode)")
        let gap = try #require(gaps.first)
        #expect(gap["region"] as? Int == 0 && gap["offset"] as? Int == 0 && gap["cause"] as? String == "signal:irq0")
        #expect(gap["device"] as? String == GuestRun.bdf(dir))
        #expect(gap["startNs"] as? UInt64 == kernelNs, "the gap opens when the kernel signalled, not when QEMU woke up")
        #expect(gap["endNs"] as? UInt64 == disabledNs)
        let triggers = try #require(result["triggers"] as? [[String: Any]])
        #expect(triggers.count == 1, "one interrupt, one trigger")
        #expect(triggers.first?["latencyNs"] as? Int64 == Int64(disabledNs - kernelNs))
        #expect(triggers.first?["wakeupNs"] as? UInt64 == wakeNs - kernelNs)
        #expect(triggers.first?["effectiveNs"] as? UInt64 == disabledNs - wakeNs)
        let findings = try #require(result["findings"] as? [[String: Any]])
        #expect(!findings.contains { $0["kind"] as? String == "lost-signal" }, "a binding made before the attach is unknown, not missing")
    }
}
