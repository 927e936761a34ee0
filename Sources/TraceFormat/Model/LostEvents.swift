/// The recorder dropped `count` events between `fromNs` and `toNs` (queue overflow).
public struct LostEvents: Sendable, Hashable {
    public var count: UInt64
    public var fromNs: UInt64
    public var toNs: UInt64
    public init(count: UInt64, fromNs: UInt64, toNs: UInt64) {
        self.count = count
        self.fromNs = fromNs
        self.toNs = toNs
    }
}
