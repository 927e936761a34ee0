/// A device's region indices, iterated in ascending order: indices below 64 (a PCI device's BARs, ROM, config
/// space, VGA and the first device-specific regions) as bits of one word, any others in a sorted array — a
/// set the analyzer builds on every change of a device's reachability or requirement, without allocating.
struct RegionIndexSet: Sequence {
    private var low: UInt64 = 0
    private var high: [UInt32] = []

    var isEmpty: Bool { low == 0 && high.isEmpty }

    mutating func insert(_ r: UInt32) {
        if r < 64 {
            low |= 1 << UInt64(r)
            return
        }
        var i = 0
        while i < high.count && high[i] < r { i += 1 }
        if i == high.count || high[i] != r { high.insert(r, at: i) }
    }

    mutating func formUnion(_ other: RegionIndexSet) {
        low |= other.low
        for r in other.high { insert(r) }
    }

    func contains(_ r: UInt32) -> Bool { r < 64 ? low & (1 << UInt64(r)) != 0 : high.contains(r) }

    struct Iterator: IteratorProtocol {
        fileprivate var low: UInt64
        fileprivate let high: [UInt32]
        fileprivate var position = 0

        mutating func next() -> UInt32? {
            if low != 0 {
                let r = UInt32(low.trailingZeroBitCount)
                low &= low &- 1
                return r
            }
            guard position < high.count else { return nil }
            defer { position += 1 }
            return high[position]
        }
    }

    func makeIterator() -> Iterator { Iterator(low: low, high: high) }
}
