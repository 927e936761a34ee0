import Foundation
import Testing
import TraceFormat

@testable import TraceAnalysis

/// The definitions of docs/ANALYSIS.md on small hand-made event lists; expected values computed by hand.
@Suite struct DefinitionTests {
    let dev = "0000:00:05.0"
    let base: UInt64 = 0x7F00_0000_0000

    func ev(_ t: UInt64, _ p: EventPayload, result: Int64 = 0, tid: Int32 = 1) -> TraceEvent {
        TraceEvent(time: t, endTime: t, pid: 1, tid: tid, result: result, payload: p)
    }

    /// A device with BAR0 (1 MiB) mapped at `base`, bound re-evaluate eventfd 8, VM created.
    func setup() -> [TraceEvent] {
        [
            ev(1, .ioctl(GenericIoctl(fd: 3, target: .kvmSystem, request: 0xAE01)), result: 4),
            ev(2, .deviceOpen(DeviceOpen(fd: 7, groupFd: 6, device: dev)), result: 7),
            ev(
                3,
                .regionInfo(
                    RegionInfo(fd: 7, device: dev, index: 0, flags: 0xF, size: 0x10_0000, offset: 0, sparseAreas: [.init(offset: 0, size: 0x10_0000)])
                )),
            ev(4, .irqBinding(IrqBinding(fd: 7, device: dev, index: 5, start: 0, count: 1, flags: 0x24, eventfds: [8]))),
            ev(5, .mapping(MappingChange(operation: .mmap, fd: 7, device: dev, region: 0, address: 0, length: 0x10_0000)), result: Int64(base)),
        ]
    }

    func analyze(_ events: [TraceEvent], policy: AnalysisPolicy = .default) throws -> AnalysisResult {
        let a = try TraceAnalyzer(policy: policy)
        for e in events { a.consume(e) }
        return a.finish()
    }

    func state(_ t: UInt64, _ s: UInt32) -> TraceEvent {
        ev(t, .deviceState(DeviceStateChange(fd: 7, device: dev, migrationProtocol: .v2, requested: s, resulting: s)))
    }

    @Test("reachability follows memslots by address: two slots split the BAR, deleting one leaves half exposed")
    func memslotsByAddress() throws {
        let events =
            setup() + [
                ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x8_0000, userAddress: base))),
                ev(11, .memslot(Memslot(vmFd: 4, slot: 2, guestPhys: 0xFE08_0000, size: 0x8_0000, userAddress: base + 0x8_0000))),
                state(100, 6),
                ev(150, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0, userAddress: base))),
                ev(170, .memslot(Memslot(vmFd: 4, slot: 2, guestPhys: 0xFE08_0000, size: 0, userAddress: base + 0x8_0000))),
            ]
        let r = try analyze(events)
        // One gap from the state change (100) until the last covering memslot is gone (170).
        #expect(r.gaps.count == 1)
        #expect(r.gaps.first?.startNs == 100)
        #expect(r.gaps.first?.endNs == 170)
        #expect(r.gaps.first?.length == 0x10_0000)
        #expect(r.triggers.first?.latencyNs == 70)
    }

    @Test("a partial munmap leaves the rest of the BAR exposed; the gap ends with the last piece")
    func partialUnmap() throws {
        let events =
            setup() + [
                ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))),
                state(100, 7),
                ev(120, .mapping(MappingChange(operation: .munmap, address: base, length: 0x1000))),
                ev(130, .mapping(MappingChange(operation: .munmap, address: base + 0x1000, length: 0xF_F000))),
            ]
        let r = try analyze(events)
        #expect(r.gaps.map(\.durationNs) == [30])
        #expect(r.gaps.first?.cause == "state:PRE_COPY_P2P")
    }

    @Test("trapped accesses count per gap: only inside it, only on its region, afresh for the next gap", arguments: [0, 20] as [UInt32])
    func trappedAccessesPerGap(region: UInt32) throws {
        let r32 = Int32(region)
        func access(_ t: UInt64, region: Int32) -> TraceEvent {
            ev(t, .regionAccess(RegionAccess(operation: .write, fd: 7, device: dev, region: region, offset: 0x10, length: 4, value: 1)))
        }
        let mmap = { (t: UInt64) in
            self.ev(
                t, .mapping(MappingChange(operation: .mmap, fd: 7, device: self.dev, region: r32, address: 0, length: 0x10_0000)),
                result: Int64(self.base))
        }
        let events: [TraceEvent] = [
            ev(1, .ioctl(GenericIoctl(fd: 3, target: .kvmSystem, request: 0xAE01)), result: 4),
            ev(2, .deviceOpen(DeviceOpen(fd: 7, groupFd: 6, device: dev)), result: 7),
            ev(
                3,
                .regionInfo(
                    RegionInfo(
                        fd: 7, device: dev, index: region, flags: 0xF, size: 0x10_0000, offset: 0, sparseAreas: [.init(offset: 0, size: 0x10_0000)]))),
            mmap(5),
            ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))),
            access(90, region: r32),  // before the gap
            state(100, 7),
            access(110, region: r32), access(112, region: r32 + 1), access(115, region: r32),  // 2 on the gap's region
            ev(130, .mapping(MappingChange(operation: .munmap, address: base, length: 0x10_0000))),
            access(140, region: r32),  // between the gaps
            mmap(150),
            access(160, region: r32),  // 1 in the second gap, open at the end
        ]
        let r = try analyze(events)
        #expect(r.gaps.map(\.region) == [region, region])
        #expect(r.gaps.map(\.startNs) == [100, 150])
        #expect(r.gaps.map(\.endNs) == [130, nil])
        #expect(r.gaps.map(\.trappedAccesses) == [2, 1])
    }

    @Test("QEMU's mmaps-disabled marker ends reachability while the mapping stays; trap.on markers require traps")
    func markers() throws {
        let events =
            setup() + [
                ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))),
                ev(
                    100,
                    .marker(
                        Marker(
                            source: "driver", name: "trap.on", device: dev,
                            fields: [.init("region", "0"), .init("offset", "0x1000"), .init("length", "0x1000")]))),
                ev(
                    140,
                    .marker(Marker(source: "qemu-trace", name: "mmaps.enabled", device: dev, fields: [.init("region", "0"), .init("enabled", "0")]))),
            ]
        let r = try analyze(events)
        #expect(r.gaps.count == 1)
        let g = try #require(r.gaps.first)
        #expect(g.offset == 0x1000 && g.length == 0x1000 && g.startNs == 100 && g.endNs == 140)
        #expect(r.gaps.first?.cause == "marker:trap.on")
    }

    /// QEMU's own report of handling an interrupt (`irq.handled`, from vfio_intx_interrupt) next to the other
    /// sources of the same interrupt: one trigger, never two. BAR0 under a memslot; QEMU disables its mmaps at 160.
    @Test(
        "irq.handled is the signal, the read, or neither, depending on what else saw the interrupt",
        arguments: [
            ("QEMU log alone: handled at 100 is signal and wake-up", [false, false], UInt64(100), UInt64(0)),
            ("kernel signal at 100, eventfd read at 130, handled at 135", [true, true], UInt64(100), UInt64(30)),
            ("kernel signal at 100, no syscalls, handled at 135", [true, false], UInt64(100), UInt64(35)),
            (
                "kernel signal at 100, handled at 135 before the read that began at 125 shows up (ended 140)", [true, true, true], UInt64(100),
                UInt64(35)
            ),
        ])
    func handledMarker(name: String, sources: [Bool], triggerAt: UInt64, wakeup: UInt64) throws {
        let (kernelSignal, eventfdRead) = (sources[0], sources[1])
        var events = setup() + [ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base)))]
        if kernelSignal { events.append(ev(100, .marker(Marker(source: "ftrace", name: "irq.signal", device: dev, fields: [.init("index", "5")])))) }
        let readLate = sources.count > 2
        let read =
            readLate
            ? TraceEvent(time: 125, endTime: 140, pid: 1, tid: 1, result: 8, payload: .eventfd(EventfdOp(operation: .read, fd: 8, value: 1)))
            : ev(130, .eventfd(EventfdOp(operation: .read, fd: 8, value: 1)), result: 8)
        if eventfdRead && !readLate { events.append(read) }
        let handledAt: UInt64 = kernelSignal ? 135 : 100
        events.append(ev(handledAt, .marker(Marker(source: "qemu-trace", name: "irq.handled", device: dev, fields: [.init("index", "5")]))))
        if readLate { events.append(read) }
        events.append(
            ev(160, .marker(Marker(source: "qemu-trace", name: "mmaps.enabled", device: dev, fields: [.init("region", "0"), .init("enabled", "0")]))))
        let r = try analyze(events)
        #expect(r.triggers.count == 1, "\(name)")
        #expect(r.triggers.first?.timeNs == triggerAt)
        #expect(r.triggers.first?.latencyNs == Int64(160 - triggerAt))
        #expect(r.triggers.first?.wakeupNs == wakeup)
        #expect(r.gaps.count == 1 && r.gaps.first?.startNs == triggerAt && r.gaps.first?.endNs == 160)
        #expect(!r.findings.contains { $0.kind == .signalNeverConsumed })
    }

    @Test("a read matched to an earlier irq.handled is not left over to swallow the next interrupt's report")
    func handledThenLateReadThenNext() throws {
        func signal(_ t: UInt64) -> TraceEvent {
            ev(t, .marker(Marker(source: "ftrace", name: "irq.signal", device: dev, fields: [.init("index", "5")])))
        }
        func handled(_ t: UInt64) -> TraceEvent {
            ev(t, .marker(Marker(source: "qemu-trace", name: "irq.handled", device: dev, fields: [.init("index", "5")])))
        }
        let events =
            setup() + [
                signal(100), handled(135),
                TraceEvent(time: 125, endTime: 140, pid: 1, tid: 1, result: 8, payload: .eventfd(EventfdOp(operation: .read, fd: 8, value: 1))),
                // The next interrupt: its read was not recorded (say, --threads left that thread out); QEMU's report is all there is.
                signal(300), handled(330),
            ]
        let r = try analyze(events)
        #expect(!r.findings.contains { $0.kind == .signalNeverConsumed })
    }

    static let disabled: [Marker.Field] = [.init("region", "0"), .init("enabled", "0")]

    @Test("a signal never followed by a region-info re-read is reported only where the policy expects the re-read", arguments: [true, false])
    func layoutRereadExpectation(expected: Bool) throws {
        let events =
            setup() + [
                ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))),
                ev(100, .marker(Marker(source: "qemu-trace", name: "irq.handled", device: dev, fields: [.init("index", "5")]))),
                ev(160, .marker(Marker(source: "qemu-trace", name: "mmaps.enabled", device: dev, fields: Self.disabled))),
            ]
        var policy = AnalysisPolicy.default
        policy.expectLayoutReread = expected
        let r = try analyze(events, policy: policy)
        // The trace ends with nothing more from the VMM on the device: the recording stopped, the VMM is not blamed.
        #expect(r.findings.contains { $0.kind == .openAtTraceEnd && $0.severity == .warning } == expected)
        #expect(!r.findings.contains { $0.kind == .noRegionInfoReread })
        // Without an expected re-read, the effective phase runs from the wake-up (100) to the mmaps going (160).
        #expect(r.triggers.first?.effectiveNs == (expected ? nil : 60))
        // The gap itself does not depend on it.
        #expect(r.gaps.count == 1 && r.gaps.first?.startNs == 100 && r.gaps.first?.endNs == 160)
    }

    @Test("attach mode: mappings found at the attach count as under a memslot until a memslot change touches them")
    func attachedMappings() throws {
        let adopted = MappingChange.adoptedAtAttach | 1
        let events = [
            ev(1, .process(ProcessChange(operation: .attach, target: 1))),
            ev(2, .fd(FdChange(operation: .open, fd: 4, kind: .kvmVM, path: "anon_inode:kvm-vm"))),
            ev(
                3, .mapping(MappingChange(operation: .mmap, fd: 7, device: dev, region: 0, address: base, length: 0x10_0000, flags: adopted)),
                result: Int64(base)),
            // Mapped after the attach with no memslot: not reachable (memslots are recorded from here on).
            ev(
                4, .mapping(MappingChange(operation: .mmap, fd: 7, device: dev, region: 2, address: base + 0x20_0000, length: 0x1000)),
                result: Int64(base + 0x20_0000)),
            state(100, 6),
            // QEMU deletes the BAR's slot (made before the attach: unknown to us) by its address.
            ev(150, .memslot(Memslot(vmFd: 4, slot: 3, guestPhys: 0xFE00_0000, size: 0, userAddress: base))),
        ]
        let r = try analyze(events)
        #expect(r.gaps.map { "\($0.region) \($0.startNs) \($0.endNs ?? 0)" } == ["0 100 150"])
        #expect(r.triggers.first?.latencyNs == 50)
    }

    @Test(
        "attach mode with the memslot snapshot: only what a slot made before the attach covers is reachable, and a trapped access at its guest address is evidence",
        arguments: [true, false])
    func attachedSnapshot(snapshot: Bool) throws {
        let adopted = MappingChange.adoptedAtAttach | 1
        let slot = Memslot(vmFd: 4, slot: 3, flags: Memslot.existingAtAttach, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base)
        let taken: [TraceEvent] = [ev(2, .memslot(slot)), kvm(2, "kvm.memslot_snapshot", [.init("vms", "1"), .init("slots", "1")])]
        let events =
            [
                ev(1, .process(ProcessChange(operation: .attach, target: 1))),
                ev(2, .fd(FdChange(operation: .open, fd: 4, kind: .kvmVM, path: "anon_inode:kvm-vm"))),
                // BAR0 under slot 3; region 2 mapped but under no slot.
                ev(
                    2, .mapping(MappingChange(operation: .mmap, fd: 7, device: dev, region: 0, address: base, length: 0x10_0000, flags: adopted)),
                    result: Int64(base)),
                ev(
                    2,
                    .mapping(
                        MappingChange(operation: .mmap, fd: 7, device: dev, region: 2, address: base + 0x20_0000, length: 0x1000, flags: adopted)),
                    result: Int64(base + 0x20_0000)),
            ] + (snapshot ? taken : []) + [
                state(100, 6),
                kvm(130, "kvm.mmio", [.init("type", "write"), .init("len", "4"), .init("gpa", "0xfe000004"), .init("value", "0x1")]),
                ev(150, .memslot(Memslot(vmFd: 4, slot: 3, guestPhys: 0xFE00_0000, size: 0, userAddress: base))),
            ]
        let r = try analyze(events)
        // With the snapshot: BAR0's exposure ends at the trapped access (its guest address known from slot 3); region 2
        // was never reachable. Without: both assumed under a slot; BAR0's ends at the delete by address, region 2's never.
        let gaps = r.gaps.map { "\($0.region) \($0.startNs) \($0.endNs.map(String.init) ?? "open")" }
        #expect(gaps == (snapshot ? ["0 100 130"] : ["0 100 150", "2 100 open"]), "\(gaps)")
    }

    @Test("attach mode: a signal with no known binding is lost only for a device set up after the attach", arguments: [true, false])
    func attachedSignals(adoptedAtAttach: Bool) throws {
        let flags = adoptedAtAttach ? MappingChange.adoptedAtAttach | 1 : 1
        let events = [
            ev(1, .process(ProcessChange(operation: .attach, target: 1))),
            ev(
                3, .mapping(MappingChange(operation: .mmap, fd: 7, device: dev, region: 0, address: base, length: 0x10_0000, flags: flags)),
                result: Int64(base)),
            ev(100, .marker(Marker(source: "ftrace", name: "irq.signal", device: dev, fields: [.init("index", "5")]))),
        ]
        let r = try analyze(events)
        // Nothing binds index 5 later in this trace: an unheard signal is reported as never heard, not as lost.
        #expect(r.findings.contains { $0.kind == .reevaluateNotBound } == !adoptedAtAttach)
        #expect(!r.findings.contains { $0.kind == .lostSignal })
    }

    @Test("the safe protocol gives a negative latency (lead time) and no gap")
    func leadTime() throws {
        let events =
            setup() + [
                ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))),
                ev(50, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0, userAddress: base))),
                state(80, 3),
            ]
        let r = try analyze(events)
        #expect(r.gaps.isEmpty)
        #expect(r.triggers.map(\.latencyNs) == [-30])
        #expect(r.remapLatency.leadTime.count == 1 && r.remapLatency.leadTime.maxNs == 30)
        #expect(r.passed)
    }

    @Test("a policy can restrict traps to STOP_COPY; --max-gap turns short gaps into info")
    func policy() throws {
        var p = AnalysisPolicy.default
        p.v2TrapStates = ["STOP_COPY"]
        let events =
            setup() + [
                ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))),
                state(100, 6), state(200, 3),
                ev(260, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0, userAddress: base))),
            ]
        let r = try analyze(events, policy: p)
        #expect(r.gaps.map { ($0.startNs, $0.durationNs) }.elementsEqual([(200, 60)], by: ==))
        p.maxGapNs = 100
        let lenient = try analyze(events, policy: p)
        #expect(lenient.passed)
        #expect(lenient.findings.first { $0.kind == .trapGap }?.severity == .info)
    }

    @Test(
        "policy files: defaults for missing keys, clear errors naming the problem",
        arguments: [
            ("{\"reevaluateIrqIndices\": [0]}", nil),
            ("{\"v2TrapStates\": [\"PRECOPY\"]}", "unknown state 'PRECOPY'"),
            ("{\"maxGapNs\": \"soon\"}", "maxGapNs"),
            ("{not json", "not valid JSON"),
        ] as [(String, String?)])
    func policyFiles(text: String, expectedError: String?) throws {
        let path = NSTemporaryDirectory() + "policy-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let p = try AnalysisPolicy.load(path: path)
            #expect(expectedError == nil)
            #expect(p.reevaluateIrqIndices == [0])
            #expect(p.v2TrapStates == AnalysisPolicy.default.v2TrapStates)
            #expect(p.expectLayoutReread)
        } catch {
            let want = try #require(expectedError, "unexpected error: \(error)")
            #expect(error.description.contains(path))
            #expect(error.description.contains(want), "\(error.description)")
        }
    }

    @Test("interval sets: union, subtraction and intersection agree with a byte-level model", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func intervalSets(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        func randomRange() -> Range<UInt64> {
            let a = rng.next() % 256, b = rng.next() % 256
            return min(a, b)..<max(a, b)
        }
        func bytes(_ s: IntervalSet) -> [Bool] {
            var m = [Bool](repeating: false, count: 256)
            for r in s {
                #expect(!r.isEmpty)
                for i in r { m[Int(i)] = true }
            }
            return m
        }
        var set = IntervalSet()
        var model = [Bool](repeating: false, count: 256)
        // Removals as often as insertions: the set goes back and forth between none, one and several ranges (one
        // range is held apart from several).
        for _ in 0..<200 {
            let r = randomRange()
            if rng.next() % 2 == 0 {
                set.remove(r)
                for i in r { model[Int(i)] = false }
            } else {
                set.insert(r)
                for i in r { model[Int(i)] = true }
            }
            #expect(bytes(set) == model)
            // Disjoint, sorted, non-adjacent.
            #expect(zip(set.ranges, set.ranges.dropFirst()).allSatisfy { $0.upperBound < $1.lowerBound })
            #expect(set.isEmpty == !model.contains(true))
            let covered = (0..<256).filter { model[$0] }
            #expect(set.bounds == covered.first.map { UInt64($0)..<UInt64(covered.last! + 1) })
            #expect(set.totalLength == UInt64(covered.count))
            #expect(set == IntervalSet(set.ranges) && set.count == set.ranges.count)

            // Another set of none to three ranges: each operation as the model has it.
            var other = IntervalSet()
            var otherModel = [Bool](repeating: false, count: 256)
            for _ in 0..<(rng.next() % 4) {
                let o = randomRange()
                other.insert(o)
                for i in o { otherModel[Int(i)] = true }
            }
            #expect(bytes(set.union(other)) == zip(model, otherModel).map { $0 || $1 })
            #expect(bytes(set.intersection(other)) == zip(model, otherModel).map { $0 && $1 })
            #expect(bytes(set.subtracting(other)) == zip(model, otherModel).map { $0 && !$1 })
            let c = randomRange()
            #expect(bytes(set.clamped(to: c)) == model.indices.map { model[$0] && c.contains(UInt64($0)) })
        }
    }

    @Test("region index sets and device name sets: each member once, in ascending order, whatever the order of insertion")
    func smallSets() {
        var rng = SplitMix64(seed: 7)
        var regions = RegionIndexSet()
        var other = RegionIndexSet()
        var model = Set<UInt32>()
        for i in 0..<300 {
            // Indices below 64 (held as bits) and above (held in an array), repeats among them.
            let r = UInt32(rng.next() % 3 == 0 ? 64 + rng.next() % 200 : rng.next() % 64)
            if i % 2 == 0 { regions.insert(r) } else { other.insert(r) }
            model.insert(r)
        }
        regions.formUnion(other)
        #expect(Array(regions) == model.sorted())
        #expect(model.allSatisfy { regions.contains($0) } && !regions.contains(63 + 300))
        #expect(RegionIndexSet().isEmpty && Array(RegionIndexSet()).isEmpty)

        var names = DeviceNameSet()
        for n in ["0000:00:07.0", "0000:00:05.0", "0000:00:07.0", "0000:00:06.0", "0000:00:05.0"] { names.insert(n) }
        var seen: [String] = []
        names.forEachSorted { seen.append($0) }
        #expect(seen == ["0000:00:05.0", "0000:00:06.0", "0000:00:07.0"])
        var one = DeviceNameSet()
        one.insert("d")
        one.insert("d")
        seen = []
        one.forEachSorted { seen.append($0) }
        #expect(seen == ["d"])
    }

    // MARK: - Trust: orderings and inputs a recorder, a merge or an attacker can produce

    func eventfd(_ op: EventfdOp.Operation, _ start: UInt64, _ end: UInt64, tid: Int32) -> TraceEvent {
        TraceEvent(time: start, endTime: end, pid: 1, tid: tid, result: 8, payload: .eventfd(EventfdOp(operation: op, fd: 8, value: 1)))
    }

    @Test(
        "a blocking read that returned consumed the write that began before it returned, in whichever order the exit stops were seen",
        arguments: [
            // (write entry, write exit, consumed): the read (tid 2) enters at 50 and returns at 100.
            (60, 110, true),  // the write began before the read returned: its exit stop is merely seen later
            (120, 130, false),  // the write began after the read returned: nothing read it
        ] as [(UInt64, UInt64, Bool)])
    func readSeenBeforeItsWrite(writeStart: UInt64, writeEnd: UInt64, consumed: Bool) throws {
        let events = setup() + [eventfd(.read, 50, 100, tid: 2), eventfd(.write, writeStart, writeEnd, tid: 3)]
        let r = try analyze(events)
        #expect(r.findings.contains { $0.kind == .signalNeverConsumed } == !consumed)
        let after = setup() + [eventfd(.read, 50, 100, tid: 2), eventfd(.write, writeStart, writeEnd, tid: 3), state(200, 6)]
        #expect(try analyze(after).findings.contains { $0.kind == .stateChangeWithPendingSignal } == !consumed)
    }

    @Test("events that complete before they start, or arrive with older times, never move the analysis back in time")
    func timeNeverGoesBack() throws {
        let events =
            setup() + [
                ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))),
                state(1_000, 6),  // a gap opens at 1000
                TraceEvent(
                    time: 900, endTime: 400, pid: 1, tid: 1, result: 0,
                    payload: .mapping(MappingChange(operation: .munmap, fd: -1, address: base, length: 0x10_0000))),
            ]
        let r = try analyze(events)
        // The munmap takes effect at the analyzer's clock (1000): the gap closes with zero length, not 2^64 - 600.
        #expect(r.gaps.count == 1)
        #expect(r.gaps.first?.startNs == 1_000 && r.gaps.first?.endNs == 1_000 && r.gaps.first?.durationNs == 0)
        #expect(r.startNs == 1 && r.endNs == 1_000)
    }

    @Test("addresses and lengths that wrap past 2^64 are clamped, not trapped on")
    func wrappingRanges() throws {
        let events =
            setup() + [
                ev(
                    20, .mapping(MappingChange(operation: .mmap, fd: 7, device: dev, region: 0, regionOffset: .max - 4, address: 0, length: .max)),
                    result: -4096 * 2),
                ev(21, .memslot(Memslot(vmFd: 4, slot: 9, guestPhys: 0, size: .max, userAddress: .max - 1))),
                ev(
                    22,
                    .marker(
                        Marker(
                            source: "driver", name: "trap.on", device: dev,
                            fields: [.init("region", "0"), .init("offset", "0xffffffffffffffff"), .init("length", "16")]))),
                ev(23, .mapping(MappingChange(operation: .munmap, fd: -1, address: .max - 10, length: .max))),
            ]
        let r = try analyze(events)
        #expect(r.events == UInt64(events.count))
    }

    @Test("findings are listed up to 100 of a kind and counted all; the verdict counts them all")
    func findingsCapped() throws {
        let lost = (0..<500).map { i in ev(UInt64(100 + i), .lost(LostEvents(count: 1, fromNs: UInt64(i), toNs: UInt64(i)))) }
        let r = try analyze(setup() + lost)
        #expect(r.findings.filter { $0.kind == .lostEvents }.count == TraceAnalyzer.listedPerKind + 1)
        #expect(r.findings.contains { $0.kind == .lostEvents && $0.message.hasPrefix("400 more lost-events findings not listed (500 in all)") })
        #expect(r.warnings == 500)
    }

    @Test("a trace with no VFIO device checked nothing: its own verdict, not a pass")
    func nothingChecked() throws {
        let events = [eventfd(.write, 1, 2, tid: 1), eventfd(.read, 3, 4, tid: 1)]
        let r = try analyze(events)
        #expect(r.verdict == AnalysisResult.nothingChecked)
        #expect(!r.passed && r.checkedNothing)
        #expect(try analyze([]).verdict == AnalysisResult.nothingChecked)
        #expect(try analyze(setup()).verdict == AnalysisResult.pass)
    }

    @Test("the VMM changing the device state after a signal without re-reading the layout is an error at the end of the trace")
    func actedWithoutReread() throws {
        let signal = ev(100, .marker(Marker(source: "driver", name: "irq.signal", device: dev, fields: [.init("index", "5")])))
        let quiet = try analyze(setup() + [signal])
        #expect(quiet.findings.contains { $0.kind == .openAtTraceEnd && $0.severity == .warning })
        #expect(!quiet.findings.contains { $0.kind == .noRegionInfoReread })
        let acted = try analyze(setup() + [signal, state(200, 6)])
        #expect(acted.findings.contains { $0.kind == .noRegionInfoReread && $0.severity == .error })
        #expect(!acted.findings.contains { $0.kind == .openAtTraceEnd })
    }

    func driver(_ t: UInt64, _ name: String, offset: UInt64 = 0, length: UInt64 = 0x1000) -> TraceEvent {
        ev(
            t,
            .marker(
                Marker(
                    source: "edu_vfio_pci", name: name, device: dev,
                    fields: [.init("region", "0"), .init("offset", "\(offset)"), .init("length", "\(length)")])))
    }

    @Test(
        "a driver's revocation ends reachability at once, whatever the VMM still maps; restore makes it reachable again",
        arguments: [
            // (revoke at, expected gap): revoking before the requirement leaves none; after it, the gap ends at the revoke.
            (UInt64(100), nil), (UInt64(130), UInt64(30)),
        ] as [(UInt64, UInt64?)])
    func revocation(revokeAt: UInt64, gap: UInt64?) throws {
        let memslot = ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base)))
        let events =
            setup() + [memslot]
            + (revokeAt <= 100
                ? [driver(revokeAt, "mmap.revoke"), driver(100, "trap.on")] : [driver(100, "trap.on"), driver(revokeAt, "mmap.revoke")])
            + [driver(300, "trap.off"), driver(310, "mmap.restore"), state(400, 6)]
        let r = try analyze(events)
        // The VMM never unmapped: only the driver's revocation closes the first window; the state change
        // at 400 (PRE_COPY requires traps) finds the restored mapping reachable again and opens a gap.
        let first = r.gaps.first { $0.startNs < 400 }
        #expect(first?.durationNs == gap)
        #expect(first.map { $0.startNs == 100 && $0.length == 0x1000 } ?? true)
        #expect(r.gaps.contains { $0.startNs == 400 && $0.endNs == nil })
    }

    func kvm(_ t: UInt64, _ name: String, _ fields: [Marker.Field], pid: Int32 = 1) -> TraceEvent {
        TraceEvent(time: t, endTime: t, pid: pid, tid: pid, payload: .marker(Marker(source: "kvm", name: name, fields: fields)))
    }

    @Test(
        "the kernel's evidence ends the exposure where it happened: KVM unmapping the BAR's host range, or a guest access to its guest-physical range exiting",
        arguments: [
            // (kernel event, expected end): the VMM's munmap completes at 170.
            ("kvm.unmap_hva_range", UInt64(150)), ("kvm.mmio", UInt64(130)), ("other process", UInt64(170)), ("after the call", UInt64(170)),
        ] as [(String, UInt64)])
    func kernelEvidence(kind: String, end: UInt64) throws {
        let host = [Marker.Field("start", "0x\(String(base, radix: 16))"), .init("end", "0x\(String(base + 0x10_0000, radix: 16))")]
        let guest = [Marker.Field("type", "write"), .init("len", "4"), .init("gpa", "0xfe000004"), .init("value", "0x1")]
        let evidence: [TraceEvent] =
            switch kind {
            case "kvm.unmap_hva_range": [kvm(150, kind, host)]
            case "kvm.mmio": [kvm(130, kind, guest)]
            case "other process": [kvm(150, "kvm.unmap_hva_range", host, pid: 2)]
            default: []
            }
        let munmap = ev(170, .mapping(MappingChange(operation: .munmap, fd: -1, address: base, length: 0x10_0000)))
        let events =
            setup() + [ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))), state(100, 6)]
            + evidence + [munmap] + (kind == "after the call" ? [kvm(180, "kvm.unmap_hva_range", host)] : [])
        let r = try analyze(events)
        #expect(r.gaps.count == 1)
        #expect(r.gaps.first?.startNs == 100 && r.gaps.first?.endNs == end, "\(r.gaps)")
        #expect(r.triggers.first?.latencyNs == Int64(end - 100))
    }

    @Test(
        "a re-evaluate signal nobody could hear: lost when the VMM binds the index later, never heard (old userspace) when it never does",
        arguments: [("irq.signal", true), ("irq.signal", false), ("irq.unbound", false)])
    func unheardSignals(name: String, bindLater: Bool) throws {
        // No eventfd bound to index 5 in this setup (the VMM is an old one, or binds late).
        let plain: [TraceEvent] = [
            ev(2, .deviceOpen(DeviceOpen(fd: 7, groupFd: 6, device: dev)), result: 7),
            ev(5, .mapping(MappingChange(operation: .mmap, fd: 7, device: dev, region: 0, address: 0, length: 0x10_0000)), result: Int64(base)),
            ev(100, .marker(Marker(source: "driver", name: "trap.on", device: dev, fields: [.init("region", "0"), .init("length", "4096")]))),
            ev(101, .marker(Marker(source: "driver", name: name, device: dev, fields: [.init("index", "5")]))),
            ev(102, .marker(Marker(source: "driver", name: name, device: dev, fields: [.init("index", "5")]))),
        ]
        let bind = ev(200, .irqBinding(IrqBinding(fd: 7, device: dev, index: 5, start: 0, count: 1, flags: 0x24, eventfds: [8])))
        let r = try analyze(plain + (bindLater ? [bind] : []))
        let lost = r.findings.filter { $0.kind == .lostSignal }, never = r.findings.filter { $0.kind == .reevaluateNotBound }
        #expect(lost.count == (bindLater ? 1 : 0) && never.count == (bindLater ? 0 : 1))
        #expect((lost + never).first?.timeNs == 101)
        if !bindLater { #expect(never.first?.message.contains("asked the VMM 2 times") == true) }
        // The BAR stayed reachable while required: one gap, open to the end.
        #expect(r.gaps.count == 1 && r.gaps.first?.startNs == 100 && r.gaps.first?.endNs == nil)
    }

    @Test("a VMM killed by a signal while it maps a device is an error, blaming the revocation when there was one", arguments: [true, false])
    func vmmKilled(revoked: Bool) throws {
        let events =
            setup() + (revoked ? [driver(100, "mmap.revoke")] : [])
            + [ev(231, .process(ProcessChange(operation: .exit, target: 1, status: 128 + 7)))]
        let r = try analyze(events)
        let killed = r.findings.filter { $0.kind == .vmmKilled }
        #expect(killed.count == 1)
        #expect(killed.first?.severity == .error && killed.first?.timeNs == 231)
        #expect(killed.first?.message.contains(revoked ? "killed by SIGBUS 131 ns after the driver revoked" : "killed by SIGBUS while") == true)
        // A normal exit, or one with exit status 1, blames nothing.
        #expect(
            !(try analyze(setup() + [ev(231, .process(ProcessChange(operation: .exit, target: 1, status: 1)))]).findings.contains {
                $0.kind == .vmmKilled
            }))
    }

    // MARK: - Cost: work bounded by the trace, not by its history

    @Test("triggers pending through many wake-ups and re-reads are timed with work linear in their number")
    func pendingTriggerMarksAreLinear() throws {
        // PRE_COPY at 100 keeps the BAR exposed to the end; then `n` rounds of signal, eventfd read (wake-up) and
        // layout re-read, none of which ends the exposure, so every trigger stays pending to the end.
        func rounds(_ n: Int) throws -> (result: AnalysisResult, visits: Int) {
            var events =
                setup() + [ev(10, .memslot(Memslot(vmFd: 4, slot: 1, guestPhys: 0xFE00_0000, size: 0x10_0000, userAddress: base))), state(100, 6)]
            for k in 0..<UInt64(n) {
                let t = 200 + k * 100
                events.append(eventfd(.write, t, t, tid: 2))
                events.append(eventfd(.read, t + 10, t + 10, tid: 1))
                events.append(
                    ev(t + 20, .regionInfo(RegionInfo(fd: 7, device: dev, index: 0, flags: 0xF, size: 0x10_0000, offset: 0, sparseAreas: []))))
            }
            let a = try TraceAnalyzer(policy: .default)
            for e in events { a.consume(e) }
            return (a.finish(), a.triggerMarkVisits)
        }
        for n in [200, 400] {
            let (r, visits) = try rounds(n)
            // One trigger for the state change and one per signal (each arrives while the BAR is exposed), none
            // resolved; each is marked once at its first wake-up and once at its first re-read. Visiting every
            // pending trigger on every mark would be 2·Σ(k+1) for k in 1...n = n² + 3n: 40,600 for n = 200.
            #expect(r.triggers.count == n + 1)
            #expect(r.remapLatency.unresolved == UInt64(n + 1))
            #expect(r.gaps.count == 1 && r.gaps.first?.startNs == 100 && r.gaps.first?.endNs == nil)
            #expect(visits == 2 * (n + 1))
        }
    }
}
