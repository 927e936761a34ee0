import TraceFormat

/// Everything the analyzer knows about one device at the current point of the trace.
final class DeviceTimeline {
    let name: String
    /// Latest successful GET_REGION_INFO answer per region index (`setRegion`).
    private(set) var regions: [UInt32: RegionInfo] = [:]
    /// Their sizes, apart: every recompute asks for them, and an answer copied out of `regions` brings its
    /// strings and arrays along (reference counting for one number).
    private var regionSizes: [UInt32: UInt64] = [:]

    func setRegion(_ info: RegionInfo) {
        regions[info.index] = info
        regionSizes[info.index] = info.size
    }
    var migrationProtocol: DeviceStateChange.MigrationProtocol?
    var state: UInt32?
    /// Migration state requires traps (per policy).
    var stateRequires = false
    /// The state requested last, named in the cause of a gap it opens (`currentCause`: text only for a gap).
    var causeState: (migrationProtocol: DeviceStateChange.MigrationProtocol, state: UInt32) = (.v2, 0)
    /// A re-evaluate signal arrived; until region info is read back after it, the whole region is required.
    var signalActive = false
    /// The irq index of that signal, and whether nobody could hear it (the cause of a gap it opens).
    var causeSignal: (index: UInt32, lost: Bool) = (0, false)
    /// Region info read back after the latest signal.
    var layoutAfterSignal: [UInt32: RegionInfo] = [:]
    /// Signal times not yet consumed by an eventfd read.
    var pendingSignals: [UInt64] = []
    /// Per irq index: eventfd reads of a re-evaluate signal not yet matched by the VMM's own `irq.handled` report.
    var readsAwaitingHandled: [UInt32: Int] = [:]
    /// Per irq index: when the VMM reported an interrupt handled before its eventfd read showed up.
    var handledBeforeRead: [UInt32: UInt64] = [:]
    /// Per irq index: re-evaluate signals raised while no eventfd was bound to it (first time, count) — lost
    /// if the VMM binds the index later, never heard if it never does.
    var unheardSignals: [UInt32: (first: UInt64, count: Int)] = [:]
    /// Time of the latest signal not followed by a region info re-read.
    var signalAwaitingReread: UInt64?
    /// The VMM changed the device's state after that signal without re-reading the layout: at the end of the
    /// trace, that is a protocol error, not a recording that stopped too soon.
    var actedSinceSignal = false
    /// Driver-side trap requests (imported markers).
    var markerRequired: [UInt32: IntervalSet] = [:]
    /// The trace holds the driver's own account of what it requires (trap.on / trap.off): a re-evaluate
    /// signal then tells the VMM to look, but requires nothing the account does not.
    var hasAccount = false
    var markerCause = ""
    /// Per region: ranges whose user mappings the driver revoked in the kernel (`mmap.revoke`, until
    /// `mmap.restore`): unreachable whatever the VMM still maps.
    var revoked: [UInt32: IntervalSet] = [:] { didSet { reachVersion &+= 1 } }
    /// When the driver last revoked mappings of this device (the device's close may restore them before the
    /// VMM's death is seen: the time is kept).
    var revokedAt: UInt64?
    /// The latest kernel-side evidence that the guest lost direct access: KVM unmapping the device's host
    /// range (`kvm.unmap_hva_range`), a guest access to its guest-physical range exiting (`kvm.mmio`).
    var kernelUnmapAt: UInt64?
    var kernelTrapAt: UInt64?
    /// Regions whose mmaps QEMU disabled (vfio_region_mmaps_set_enabled 0).
    var mmapsDisabled: Set<UInt32> = [] { didSet { reachVersion &+= 1 } }
    /// Open gap per region.
    var openGaps: [UInt32: TrapGap] = [:]
    /// Trapped accesses to regions 0..<16 while their gap is open (bit r of `countedRegions`), added to the gap when
    /// it is taken out of `openGaps`: a counter per access instead of a dictionary update (see `GapAccounting`).
    @exclusivity(unchecked) var countedRegions: UInt16 = 0
    @exclusivity(unchecked) var gapAccesses = [UInt64](repeating: 0, count: 16)

    /// Takes the open gap of region `r` with the accesses counted for it.
    func takeOpenGap(_ r: UInt32) -> TrapGap? {
        guard var gap = openGaps.removeValue(forKey: r) else { return nil }
        if r < 16 && countedRegions & (1 << r) != 0 {
            gap.trappedAccesses &+= gapAccesses[Int(r)]
            countedRegions &= ~(1 << r)
        }
        return gap
    }

    /// The open gap of region `r` with the accesses counted so far, left open.
    func gapSoFar(region r: UInt32) -> TrapGap? {
        guard var gap = openGaps[r] else { return nil }
        if r < 16 && countedRegions & (1 << r) != 0 { gap.trappedAccesses &+= gapAccesses[Int(r)] }
        return gap
    }

    /// Opens a gap on region `r`.
    func openGap(_ gap: TrapGap, region r: UInt32) {
        openGaps[r] = gap
        if r < 16 {
            gapAccesses[Int(r)] = 0
            countedRegions |= 1 << r
        }
    }
    var exposed = false
    var reachable = false
    /// Some checked, mappable region needs traps (for the trap-required band).
    var trapRequired = false
    /// Index in `TraceAnalyzer.spans` of the open span of each kind.
    var openSpans: [DeviceSpan.Kind: Int] = [:]
    var everReachable = false
    var lastReachableEnd: UInt64?
    /// A trigger still waiting for the exposure to end: its index in the analyzer's trigger list, and when the VMM
    /// woke up and re-read the layout after it, once it did.
    struct PendingTrigger {
        var index: Int
        var wake: UInt64?
        var reread: UInt64?
    }
    var pendingTriggers: [PendingTrigger] = []
    /// How many of `pendingTriggers`, from the first, have their wake-up / re-read time: a mark goes to every
    /// trigger pending at the time and the list only grows until it is emptied, so the marked ones are a prefix,
    /// and a mark need only visit the triggers added since the last: with a frequent index such as MSI
    /// re-evaluating, thousands stay pending while a gap is open, and visiting them all on every read would make
    /// the analysis quadratic in the trace.
    var wakeMarkedTriggers = 0
    var rereadMarkedTriggers = 0
    /// Time the state stopped requiring traps, waiting for the device to be reachable again.
    var restorePendingSince: UInt64?
    /// Moves with every change of `revoked` and `mmapsDisabled`.
    private(set) var reachVersion: UInt64 = 0
    /// What `ReachabilityTracker` worked out of the processes for this device — the regions they map, and per region
    /// asked for the offsets the guest can reach — good while the context's `reachEpoch` and `reachVersion` are
    /// `reachKey`.
    var reachKey: (epoch: UInt64, version: UInt64) = (.max, .max)
    var mappedRegions = RegionIndexSet()
    var reachByRegion: [(region: UInt32, reach: IntervalSet)] = []
    /// The device's latency figures (`GapAccounting`'s, by name across files), once looked up.
    var latency: DeviceLatency?
    /// Recent transitions out of a running state (for the KVM_RUN check).
    var leftRunningAt: [UInt64] = []

    init(name: String) { self.name = name }

    /// Size of a region, or "everything" when its size was never read.
    func regionSize(_ r: UInt32) -> UInt64 { regionSizes[r] ?? (UInt64(1) << 40) }

    /// Region offsets that must be trapped now.
    func required(region r: UInt32) -> IntervalSet {
        if stateRequires { return IntervalSet(covering: 0..<regionSize(r)) }
        var out = markerRequired.isEmpty ? IntervalSet() : markerRequired[r] ?? IntervalSet()
        if signalActive && !hasAccount {
            let whole = IntervalSet(covering: 0..<regionSize(r))
            if let layout = layoutAfterSignal[r] {
                let allowed = IntervalSet(mmappableAreasOf: layout)
                out = out.union(whole.subtracting(allowed))
            } else {
                out = out.union(whole)
            }
        }
        return out
    }

    /// The cause to blame for a gap opening now.
    var currentCause: String {
        if stateRequires { return "state:" + MigrationStateNames.name(causeState.state, protocol: causeState.migrationProtocol) }
        if signalActive && !hasAccount { return "signal:irq\(causeSignal.index)" + (causeSignal.lost ? "(lost)" : "") }
        return markerCause
    }
}
