/// A set of disjoint, sorted half-open ranges [start, end) of region offsets or user addresses.
public struct IntervalSet: Sendable, Equatable {
    public private(set) var ranges: [Range<UInt64>] = []

    public init() {}
    public init(_ ranges: [Range<UInt64>]) {
        for r in ranges { insert(r) }
    }
    /// The set of one range (no array literal to build and merge first).
    init(covering r: Range<UInt64>) {
        if !r.isEmpty { ranges = [r] }
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
        // In place: the ranges before r stay, those r overlaps or touches merge into one, the rest stay
        // (an analysis inserts on every recompute; a new array per insert cost more than the merge).
        var i = 0
        while i < ranges.count && ranges[i].upperBound < r.lowerBound { i += 1 }
        var lo = r.lowerBound
        var hi = r.upperBound
        var j = i
        while j < ranges.count && ranges[j].lowerBound <= hi {
            lo = min(lo, ranges[j].lowerBound)
            hi = max(hi, ranges[j].upperBound)
            j += 1
        }
        if j == i + 1 {
            ranges[i] = lo..<hi
        } else {
            ranges.replaceSubrange(i..<j, with: CollectionOfOne(lo..<hi))
        }
    }

    public mutating func remove(_ r: Range<UInt64>) {
        // Most removals (a subtraction's) miss every range: no new array for those.
        guard !r.isEmpty, ranges.contains(where: { $0.upperBound > r.lowerBound && $0.lowerBound < r.upperBound }) else { return }
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
        // Both are kept disjoint and sorted, so with one side empty the other is the answer as it is.
        if isEmpty { return other }
        var out = self
        for r in other.ranges { out.insert(r) }
        return out
    }
}
