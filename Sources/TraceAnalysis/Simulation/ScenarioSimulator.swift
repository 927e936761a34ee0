import TraceFormat

/// The synthetic scenarios `vfiotrace simulate` can write, each with its ground truth.
public enum Scenario: String, CaseIterable, Sendable {
    /// The VMM deletes the memslot and unmaps the BAR before entering the saving state: lead time, no gap.
    case safe
    /// The state change completes, then the driver signals "re-evaluate mmaps"; the VMM reacts after a delay: one gap.
    case racy
    /// The driver signals before the VMM bound the eventfd: nobody is told, the gap never closes.
    case lostSignal = "lost-signal"
    /// The VMM reads the signal but never re-reads the region info nor unmaps: open gap.
    case slowUserspace = "slow-userspace"
    /// Racy protocol with migration v1 (device_state bitmask in the migration region).
    case v1
    /// Racy protocol with v2 P2P states and a rejected STOP_COPY -> PRE_COPY request.
    case v2
    /// Four devices migrating at once, racy, interleaved.
    case manyDevices = "many-devices"
    /// Racy and safe cycles on three devices with background noise, up to `--events` (streamed, flat memory).
    case long
}

/// Writes scenario traces and their truth.
public enum ScenarioSimulator {
    /// Writes the scenario to `output` and returns the truth (the caller writes `output.truth.json`).
    public static func run(
        _ scenario: Scenario, seed: UInt64, events: UInt64? = nil, output: String,
        progress: ((UInt64) -> Void)? = nil
    ) throws -> ScenarioTruth {
        var header = TraceHeader.forThisHost(source: "simulate", command: ["simulate", scenario.rawValue, "seed=\(seed)"], pids: [5000])
        header.startClock = ClockSample(monotonicNs: 10_000_000_000, realtimeNs: 1_780_000_000_000_000_000)
        let writer = try TraceWriter(path: output, header: header)
        let b = ScenarioBuilder(writer: writer, scenario: scenario.rawValue, seed: seed)
        let vmm = SimulatedVMM(b)
        let deviceCount = scenario == .manyDevices ? 4 : (scenario == .long ? 3 : 1)
        let devices = (0..<deviceCount).map { ScenarioBuilder.Device(name: "0000:00:0\($0 + 5).0", index: $0) }
        try vmm.setupContainer()
        for d in devices {
            d.protocolV1 = scenario == .v1
            try vmm.setup(d, lostSignal: scenario == .lostSignal)
        }
        try b.noise(Int(b.rng.range(5, 20)), devices: devices)
        switch scenario {
        case .safe:
            try vmm.run(vmm.safeSteps(devices[0]), devices: devices)
        case .racy, .v1, .v2:
            try vmm.run(vmm.racySteps(devices[0], p2p: scenario == .v2), devices: devices)
        case .lostSignal:
            try vmm.run(vmm.lostSignalSteps(devices[0]), devices: devices)
        case .slowUserspace:
            try vmm.run(vmm.slowUserspaceSteps(devices[0]), devices: devices)
        case .manyDevices:
            try vmm.interleave(devices.map { vmm.racySteps($0, p2p: false) }, devices: devices)
        case .long:
            let target = events ?? 1_000_000
            var lastReport: UInt64 = 0
            while b.eventsWritten < target {
                let d = devices[Int(b.rng.next() % UInt64(devices.count))]
                let steps = b.rng.next() % 10 < 6 ? vmm.racySteps(d, p2p: false) : vmm.safeSteps(d)
                try vmm.run(steps, devices: devices, noise: 0...Int(min(200, max(1, (target - b.eventsWritten) / 40))))
                if let progress, b.eventsWritten - lastReport >= 1_000_000 {
                    lastReport = b.eventsWritten
                    progress(b.eventsWritten)
                }
            }
        }
        if let target = events, scenario != .long, b.eventsWritten < target {
            try b.noise(Int(target - b.eventsWritten), devices: devices)
        }
        let truth = try b.finish(devices: devices)
        try writer.close(closeClock: ClockSample(monotonicNs: b.now, realtimeNs: 1_780_000_000_000_000_000 + (b.now - 10_000_000_000)))
        return truth
    }
}

/// The simulated VMM's actions, each one or a few syscalls, updating the truth as the plan says.
struct SimulatedVMM {
    typealias Device = ScenarioBuilder.Device
    typealias Step = () throws -> Void
    let b: ScenarioBuilder

    init(_ b: ScenarioBuilder) { self.b = b }

    func setupContainer() throws {
        let container = b.allocateFd()
        try b.call(.fd(FdChange(operation: .open, fd: container, kind: .vfioContainer, path: "/dev/vfio/vfio")), result: Int64(container))
        let kvm = b.allocateFd()
        try b.call(.fd(FdChange(operation: .open, fd: kvm, kind: .kvmSystem, path: "/dev/kvm")), result: Int64(kvm))
        let vm = b.allocateFd()
        try b.call(.ioctl(GenericIoctl(fd: kvm, target: .kvmSystem, request: 0xAE01)), result: Int64(vm))
    }

    func fullLayout(_ d: Device) -> [RegionInfo.Area] { [RegionInfo.Area(offset: 0, size: d.barSize)] }

    func regionInfo(_ d: Device, areas: [RegionInfo.Area]) throws -> UInt64 {
        try b.call(.regionInfo(RegionInfo(fd: d.deviceFd, device: d.name, index: 0, flags: 0xF, size: d.barSize, offset: 0, sparseAreas: areas)))
    }

    func setup(_ d: Device, lostSignal: Bool) throws {
        let group = b.allocateFd()
        try b.call(.fd(FdChange(operation: .open, fd: group, kind: .vfioGroup, path: "/dev/vfio/\(40 + d.index)")), result: Int64(group))
        d.deviceFd = b.allocateFd()
        try b.call(.deviceOpen(DeviceOpen(fd: d.deviceFd, groupFd: group, device: d.name)), result: Int64(d.deviceFd))
        try b.call(
            .vfioIoctl(
                VFIOIoctl(
                    fd: d.deviceFd, target: .vfioDevice, device: d.name, request: 0x3B6B,
                    argument: [24, 0, 0, 0, 0x83, 0, 0, 0, 10, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])))
        _ = try regionInfo(d, areas: fullLayout(d))
        if d.protocolV1 {
            try b.call(
                .regionInfo(
                    RegionInfo(
                        fd: d.deviceFd, device: d.name, index: 9, flags: 0xB, size: 0x1000, offset: 9 << 40,
                        regionType: .init(type: 3, subtype: 1), sparseAreas: nil)))
        }
        d.reevalEventfd = b.allocateFd()
        try b.call(.eventfd(EventfdOp(operation: .create, fd: d.reevalEventfd, value: 0, flags: 0o2000000)), result: Int64(d.reevalEventfd))
        d.msiEventfd = b.allocateFd()
        try b.call(.eventfd(EventfdOp(operation: .create, fd: d.msiEventfd, value: 0, flags: 0o2000000)), result: Int64(d.msiEventfd))
        if lostSignal {
            b.wait(10_000, 50_000)
            let t = try b.call(
                .marker(Marker(source: "driver", name: "irq.signal", device: d.name, fields: [.init("index", "5")])),
                tid: b.driverTid, duration: 0)
            b.expect("lost-signal", d, at: t)
            // The device now wants its mappings re-evaluated, and will never be asked about: any mapping is a gap.
            d.gapCause = "signal:irq5(lost)"
        }
        try b.call(.irqBinding(IrqBinding(fd: d.deviceFd, device: d.name, index: 5, start: 0, count: 1, flags: 0x24, eventfds: [d.reevalEventfd])))
        try b.call(.irqBinding(IrqBinding(fd: d.deviceFd, device: d.name, index: 1, start: 0, count: 1, flags: 0x24, eventfds: [d.msiEventfd])))
        try mapAndAddSlot(d)
        if lostSignal { b.openGap(d, cause: "signal:irq5(lost)", at: lastSlotAdd) }
    }

    /// Completion time of the latest memslot add (when the BAR became guest-reachable).
    var lastSlotAdd: UInt64 { b.lastTime }

    func mapAndAddSlot(_ d: Device) throws {
        try b.call(
            .mapping(
                MappingChange(
                    operation: .mmap, fd: d.deviceFd, device: d.name, region: 0, regionOffset: 0, address: 0,
                    length: d.barSize, prot: 3, flags: 1, fileOffset: 0)),
            result: Int64(bitPattern: d.address))
        let t = try b.call(.memslot(Memslot(vmFd: 5, slot: d.slot, guestPhys: d.gpa, size: d.barSize, userAddress: d.address)))
        b.restored(d, at: t)
    }

    func setState(_ d: Device, _ state: UInt32, result: Int64 = 0) throws -> UInt64 {
        let p: DeviceStateChange.MigrationProtocol = d.protocolV1 ? .v1 : .v2
        return try b.call(
            .deviceState(
                DeviceStateChange(
                    fd: d.deviceFd, device: d.name, migrationProtocol: p, requested: state,
                    resulting: result == 0 ? state : 0, dataFd: result == 0 && !d.protocolV1 && (state == 6 || state == 3) ? 90 : -1)),
            result: result, duration: b.rng.range(20_000, 120_000))
    }

    func stateName(_ d: Device, _ s: UInt32) -> String { MigrationStateNames.name(s, protocol: d.protocolV1 ? .v1 : .v2) }

    func enterSaving(_ d: Device, exposed: Bool) throws {
        let s: UInt32 = d.protocolV1 ? 3 : 6
        let t = try setState(d, s)
        if exposed {
            b.openGap(d, cause: "state:" + stateName(d, s), at: t)
            b.triggerWhileExposed(d, kind: "state", at: t)
        } else {
            b.triggerAfterUnmap(d, kind: "state", at: t)
        }
    }

    func driverSignal(_ d: Device, exposed: Bool) throws {
        let t = try b.call(
            .eventfd(EventfdOp(operation: .write, fd: d.reevalEventfd, value: 1)), tid: b.driverTid, result: 8, duration: b.rng.range(500, 3_000))
        if exposed { b.triggerWhileExposed(d, kind: "signal", at: t) } else { b.triggerAfterUnmap(d, kind: "signal", at: t) }
    }

    func wake(_ d: Device) throws {
        let t = try b.call(.eventfd(EventfdOp(operation: .read, fd: d.reevalEventfd, value: 1)), result: 8)
        if d.wake == nil { d.wake = t }
    }

    func reread(_ d: Device, areas: [RegionInfo.Area]) throws {
        let t = try regionInfo(d, areas: areas)
        if d.reread == nil { d.reread = t }
    }

    func trappedAccess(_ d: Device) throws {
        let tid = b.pid + 1 + Int32(b.rng.next() % 4)
        try b.call(
            .regionAccess(RegionAccess(operation: .write, fd: d.deviceFd, device: d.name, region: 0, offset: 0x60, length: 4, value: 1)),
            tid: tid, result: 4)
        if d.gapStart != nil { d.gapAccesses += 1 }
    }

    func deleteSlot(_ d: Device) throws -> UInt64 {
        try b.call(.memslot(Memslot(vmFd: 5, slot: d.slot, guestPhys: d.gpa, size: 0, userAddress: d.address)))
    }

    func unmap(_ d: Device) throws {
        try b.call(.mapping(MappingChange(operation: .munmap, fd: -1, device: d.name, region: 0, address: d.address, length: d.barSize)))
    }

    func leaveSaving(_ d: Device, p2p: Bool) throws {
        if p2p {
            _ = try setState(d, 7)
            try b.noise(Int(b.rng.range(0, 5)), devices: [d])
        }
        _ = try setState(d, d.protocolV1 ? 2 : 3)
        try b.noise(Int(b.rng.range(0, 5)), devices: [d])
        if p2p {
            let t = try setState(d, 6, result: -22)
            b.expect("invalid-state-transition", d, at: t)
            b.expect("failed-vfio-ioctl", d, at: t)
        }
        let r = try setState(d, d.protocolV1 ? 0 : 1)
        if d.unreachableSince != nil { d.restoreSince = r }
    }

    func restore(_ d: Device, p2p: Bool) throws {
        b.wait(20_000, 400_000)
        try reread(d, areas: fullLayout(d))
        try mapAndAddSlot(d)
        if p2p { _ = try setState(d, 5) }
        _ = try setState(d, d.protocolV1 ? 1 : 2)
        d.reread = nil
        d.wake = nil
    }

    /// Racy: state change, then the signal, then wake-up, re-read, memslot delete, munmap after planted delays.
    func racySteps(_ d: Device, p2p: Bool) -> [Step] {
        [
            { try enterSaving(d, exposed: true) },
            {
                b.wait(5_000, 200_000); try driverSignal(d, exposed: true)
            },
            { try trappedAccess(d) },
            {
                b.wait(5_000, 300_000); try wake(d)
            },
            {
                b.wait(2_000, 80_000); try reread(d, areas: [])
            },
            {
                b.wait(5_000, 500_000); let t = try deleteSlot(d); b.remapped(d, at: t); try unmap(d)
            },
            { try leaveSaving(d, p2p: p2p) },
            { try restore(d, p2p: p2p) },
        ]
    }

    /// Safe: unreachable first, then the state change and the (now harmless) signal.
    func safeSteps(_ d: Device) -> [Step] {
        [
            {
                let t = try deleteSlot(d); d.unreachableSince = t; try unmap(d)
            },
            {
                b.wait(5_000, 200_000); try enterSaving(d, exposed: false)
            },
            {
                b.wait(5_000, 200_000); try driverSignal(d, exposed: false)
            },
            {
                b.wait(5_000, 300_000); try wake(d)
            },
            { try reread(d, areas: []) },
            { try leaveSaving(d, p2p: false) },
            { try restore(d, p2p: false) },
        ]
    }

    func lostSignalSteps(_ d: Device) -> [Step] {
        [
            { try enterSaving(d, exposed: true) },
            { try trappedAccess(d) },
            {
                b.wait(50_000, 500_000); _ = try setState(d, 3)
            },
            { _ = try setState(d, 1) },
        ]
    }

    func slowUserspaceSteps(_ d: Device) -> [Step] {
        [
            { try enterSaving(d, exposed: true) },
            {
                b.wait(5_000, 200_000); try driverSignal(d, exposed: true); b.expect("no-region-info-reread", d, at: b.lastTime)
            },
            {
                b.wait(5_000, 300_000); try wake(d)
            },
            { try trappedAccess(d) },
            {
                b.wait(50_000, 500_000); _ = try setState(d, 3)
            },
            { _ = try setState(d, 1) },
        ]
    }

    func run(_ steps: [Step], devices: [Device], noise: ClosedRange<Int> = 0...3) throws {
        for step in steps {
            try step()
            try b.noise(Int(b.rng.range(UInt64(noise.lowerBound), UInt64(noise.upperBound))), devices: devices)
        }
    }

    /// Runs several devices' steps interleaved in a seeded random order.
    func interleave(_ perDevice: [[Step]], devices: [Device]) throws {
        var next = Array(repeating: 0, count: perDevice.count)
        while true {
            let open = next.indices.filter { next[$0] < perDevice[$0].count }
            guard !open.isEmpty else { break }
            let i = open[Int(b.rng.next() % UInt64(open.count))]
            try perDevice[i][next[i]]()
            next[i] += 1
            try b.noise(Int(b.rng.range(0, 3)), devices: devices)
        }
    }
}
