import TraceFormat

/// A set of disjoint, sorted half-open ranges [start, end) of region offsets or user addresses, as a collection
/// of its ranges in order.
///
/// A set of one range (most of an analysis's: a BAR mapped whole, a region required whole) is held inline, without
/// an array: the analyzer builds several sets per change of reachability or requirement, and an allocation each
/// was most of what such a change cost.
public struct IntervalSet: Sendable, Equatable, RandomAccessCollection {
    /// The one range of a set of one; empty otherwise.
    private var single: Range<UInt64> = 0..<0
    /// Every range of a set of two or more; empty otherwise.
    private var many: [Range<UInt64>] = []

    public init() {}
    public init(_ ranges: [Range<UInt64>]) {
        for r in ranges { insert(r) }
    }
    /// The set of one range.
    init(covering r: Range<UInt64>) {
        if !r.isEmpty { single = r }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { many.isEmpty ? (single.isEmpty ? 0 : 1) : many.count }
    public subscript(i: Int) -> Range<UInt64> {
        if many.isEmpty {
            precondition(i == 0 && !single.isEmpty, "IntervalSet index out of range")
            return single
        }
        return many[i]
    }

    public static func == (a: IntervalSet, b: IntervalSet) -> Bool { a.elementsEqual(b) }

    /// The ranges, as an array (for callers that keep them; iterating the set itself allocates nothing).
    public var ranges: [Range<UInt64>] { Array(self) }

    public var isEmpty: Bool { many.isEmpty && single.isEmpty }
    /// Smallest range covering the whole set.
    public var bounds: Range<UInt64>? {
        if many.isEmpty { return single.isEmpty ? nil : single }
        return many[0].lowerBound..<many[many.count - 1].upperBound
    }
    public var totalLength: UInt64 { reduce(0) { $0.saturatingAdd($1.upperBound - $1.lowerBound) } }

    /// Adds `r` after every range of the set (non-empty, beyond the last and not touching it).
    private mutating func append(_ r: Range<UInt64>) {
        if !many.isEmpty {
            many.append(r)
        } else if single.isEmpty {
            single = r
        } else {
            many = [single, r]
            single = 0..<0
        }
    }

    public mutating func insert(_ r: Range<UInt64>) {
        guard !r.isEmpty else { return }
        if many.isEmpty {
            if single.isEmpty {
                single = r
            } else if single.lowerBound <= r.upperBound && r.lowerBound <= single.upperBound {
                // Overlapping or touching: one range.
                single = Swift.min(single.lowerBound, r.lowerBound)..<Swift.max(single.upperBound, r.upperBound)
            } else {
                many = r.lowerBound < single.lowerBound ? [r, single] : [single, r]
                single = 0..<0
            }
            return
        }
        // In place: the ranges before r stay, those r overlaps or touches merge into one, the rest stay
        // (an analysis inserts on every recompute; a new array per insert cost more than the merge).
        var i = 0
        while i < many.count && many[i].upperBound < r.lowerBound { i += 1 }
        var lo = r.lowerBound
        var hi = r.upperBound
        var j = i
        while j < many.count && many[j].lowerBound <= hi {
            lo = Swift.min(lo, many[j].lowerBound)
            hi = Swift.max(hi, many[j].upperBound)
            j += 1
        }
        if j == i + 1 {
            many[i] = lo..<hi
        } else {
            many.replaceSubrange(i..<j, with: CollectionOfOne(lo..<hi))
            if many.count == 1 {
                // Merged into one: held inline.
                single = many[0]
                many = []
            }
        }
    }

    public mutating func remove(_ r: Range<UInt64>) {
        // Most removals (a subtraction's) miss every range: nothing changes for those.
        guard !r.isEmpty, contains(where: { $0.upperBound > r.lowerBound && $0.lowerBound < r.upperBound }) else { return }
        var out = IntervalSet()
        for x in self {
            if x.upperBound <= r.lowerBound || x.lowerBound >= r.upperBound {
                out.append(x)
                continue
            }
            if x.lowerBound < r.lowerBound { out.append(x.lowerBound..<r.lowerBound) }
            if x.upperBound > r.upperBound { out.append(r.upperBound..<x.upperBound) }
        }
        self = out
    }

    public func intersection(_ other: IntervalSet) -> IntervalSet {
        var out = IntervalSet()
        var i = 0
        var j = 0
        let n = count
        let m = other.count
        while i < n && j < m {
            let a = self[i]
            let b = other[j]
            let lo = Swift.max(a.lowerBound, b.lowerBound)
            let hi = Swift.min(a.upperBound, b.upperBound)
            if lo < hi { out.append(lo..<hi) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        return out
    }

    /// The set's part within `r` (`intersection(IntervalSet(covering: r))`).
    public func clamped(to r: Range<UInt64>) -> IntervalSet {
        if many.isEmpty {
            let lo = Swift.max(single.lowerBound, r.lowerBound)
            let hi = Swift.min(single.upperBound, r.upperBound)
            return lo < hi ? IntervalSet(covering: lo..<hi) : IntervalSet()
        }
        return intersection(IntervalSet(covering: r))
    }

    public func subtracting(_ other: IntervalSet) -> IntervalSet {
        var out = self
        for r in other { out.remove(r) }
        return out
    }

    public func union(_ other: IntervalSet) -> IntervalSet {
        // Both are kept disjoint and sorted, so with one side empty the other is the answer as it is.
        if isEmpty { return other }
        var out = self
        for r in other { out.insert(r) }
        return out
    }
}

extension IntervalSet {
    /// The areas a VMM may mmap per `info` (`RegionInfo.forEachMmappableArea`).
    init(mmappableAreasOf info: RegionInfo) {
        self.init()
        info.forEachMmappableArea { insert($0.offset..<$0.end) }
    }
}
