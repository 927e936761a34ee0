/// A set of disjoint, sorted half-open ranges [start, end) of region offsets or user addresses.
public struct IntervalSet: Sendable, Equatable {
    public private(set) var ranges: [Range<UInt64>] = []

    public init() {}
    public init(_ ranges: [Range<UInt64>]) {
        for r in ranges { insert(r) }
    }

    public var isEmpty: Bool { ranges.isEmpty }
    /// Smallest range covering the whole set.
    public var bounds: Range<UInt64>? {
        guard let f = ranges.first, let l = ranges.last else { return nil }
        return f.lowerBound..<l.upperBound
    }
    public var totalLength: UInt64 { ranges.reduce(0) { $0.saturatingAdd($1.upperBound - $1.lowerBound) } }

    public mutating func insert(_ r: Range<UInt64>) {
        guard !r.isEmpty else { return }
        var lo = r.lowerBound
        var hi = r.upperBound
        var out: [Range<UInt64>] = []
        out.reserveCapacity(ranges.count + 1)
        var placed = false
        for x in ranges {
            if x.upperBound < lo {
                out.append(x)
            } else if x.lowerBound > hi {
                if !placed {
                    out.append(lo..<hi)
                    placed = true
                }
                out.append(x)
            } else {
                lo = min(lo, x.lowerBound)
                hi = max(hi, x.upperBound)
            }
        }
        if !placed { out.append(lo..<hi) }
        ranges = out
    }

    public mutating func remove(_ r: Range<UInt64>) {
        guard !r.isEmpty else { return }
        var out: [Range<UInt64>] = []
        for x in ranges {
            if x.upperBound <= r.lowerBound || x.lowerBound >= r.upperBound {
                out.append(x)
                continue
            }
            if x.lowerBound < r.lowerBound { out.append(x.lowerBound..<r.lowerBound) }
            if x.upperBound > r.upperBound { out.append(r.upperBound..<x.upperBound) }
        }
        ranges = out
    }

    public func intersection(_ other: IntervalSet) -> IntervalSet {
        var out = IntervalSet()
        var i = 0
        var j = 0
        while i < ranges.count && j < other.ranges.count {
            let a = ranges[i]
            let b = other.ranges[j]
            let lo = max(a.lowerBound, b.lowerBound)
            let hi = min(a.upperBound, b.upperBound)
            if lo < hi { out.ranges.append(lo..<hi) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        return out
    }

    public func subtracting(_ other: IntervalSet) -> IntervalSet {
        var out = self
        for r in other.ranges { out.remove(r) }
        return out
    }

    public func union(_ other: IntervalSet) -> IntervalSet {
        var out = self
        for r in other.ranges { out.insert(r) }
        return out
    }
}
