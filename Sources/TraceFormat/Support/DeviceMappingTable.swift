/// Live user-address ranges of one process that map device regions. An unmap splits what it hits.
/// The recorder uses it to name munmaps by device range; the analyzer to know what the guest can reach.
public struct DeviceMappingTable: Sendable {
    /// One contiguous mapping: user addresses -> (device, region, offset in the region).
    public struct Mapping: Sendable, Equatable {
        public var user: Range<UInt64>
        public var device: String
        public var region: Int32
        public var regionOffset: UInt64

        public init(user: Range<UInt64>, device: String, region: Int32, regionOffset: UInt64) {
            self.user = user
            self.device = device
            self.region = region
            self.regionOffset = regionOffset
        }
    }

    public private(set) var mappings: [Mapping] = []

    public init() {}

    public func devices(touching range: Range<UInt64>) -> Set<String> {
        Set(mappings.filter { $0.user.overlaps(range) }.map(\.device))
    }

    /// Adds `m`, replacing whatever it overlaps (like mmap MAP_FIXED); returns the replaced pieces.
    @discardableResult
    public mutating func map(_ m: Mapping) -> [Mapping] {
        let replaced = unmap(m.user)
        mappings.append(m)
        return replaced
    }

    /// Removes [range); returns the pieces it covered, each with its own region offset.
    @discardableResult
    public mutating func unmap(_ range: Range<UInt64>) -> [Mapping] {
        guard mappings.contains(where: { $0.user.overlaps(range) }) else { return [] }
        var kept: [Mapping] = []
        var removed: [Mapping] = []
        for m in mappings {
            guard m.user.overlaps(range) else {
                kept.append(m)
                continue
            }
            let lo = max(m.user.lowerBound, range.lowerBound)
            let hi = min(m.user.upperBound, range.upperBound)
            removed.append(
                Mapping(user: lo..<hi, device: m.device, region: m.region, regionOffset: m.regionOffset.saturatingAdd(lo - m.user.lowerBound)))
            if m.user.lowerBound < lo {
                kept.append(Mapping(user: m.user.lowerBound..<lo, device: m.device, region: m.region, regionOffset: m.regionOffset))
            }
            if hi < m.user.upperBound {
                kept.append(
                    Mapping(
                        user: hi..<m.user.upperBound, device: m.device, region: m.region,
                        regionOffset: m.regionOffset.saturatingAdd(hi - m.user.lowerBound))
                )
            }
        }
        mappings = kept
        return removed
    }

    /// Removes [range) as `unmap` does, without listing the pieces (no arrays built where it removes whole mappings,
    /// as a munmap of what was mapped does).
    public mutating func remove(_ range: Range<UInt64>) {
        guard mappings.contains(where: { $0.user.overlaps(range) }) else { return }
        let wholesOnly = mappings.allSatisfy { m in
            !m.user.overlaps(range) || (range.lowerBound <= m.user.lowerBound && m.user.upperBound <= range.upperBound)
        }
        if wholesOnly {
            mappings.removeAll { $0.user.overlaps(range) }
        } else {
            unmap(range)
        }
    }

    /// mremap: the device range mapped at [old) continues at newStart for newLength bytes. Returns the
    /// first piece that was mapped at [old) (nil when [old) mapped no device).
    @discardableResult
    public mutating func remap(old: Range<UInt64>, newStart: UInt64, newLength: UInt64) -> Mapping? {
        guard let first = unmap(old).min(by: { $0.user.lowerBound < $1.user.lowerBound }) else { return nil }
        map(Mapping(user: Range(start: newStart, length: newLength), device: first.device, region: first.region, regionOffset: first.regionOffset))
        return first
    }

    public mutating func removeAll() { mappings.removeAll() }
}
