/// The devices a change of reachability touched, each once, to be recomputed in name order. A change touches one
/// device or none, mostly: that one is held without a set to hash it into.
struct DeviceNameSet {
    private var first: String?
    private var others: [String] = []

    mutating func insert(_ name: String) {
        guard let first else { return self.first = name }
        if first != name && !others.contains(name) { others.append(name) }
    }

    /// Calls `body` with each name in ascending order (no array for one name).
    func forEachSorted(_ body: (String) -> Void) {
        guard let first else { return }
        if others.isEmpty { return body(first) }
        for name in ([first] + others).sorted() { body(name) }
    }
}
