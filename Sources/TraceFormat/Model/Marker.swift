/// A free-form event from another source (driver, kernel, QEMU trace log) or an annotation.
///
/// Well-known names used by the analyzer are listed in docs/ANALYSIS.md (e.g. `trap.on`, `trap.off`,
/// `irq.signal`, `mmaps.enabled`).
public struct Marker: Sendable, Hashable {
    /// One key/value annotation.
    public struct Field: Sendable, Hashable, Codable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }
    /// Where it came from: "qemu-trace", "driver", "kernel", "user", ...
    public var source: String
    public var name: String
    public var device: String
    public var fields: [Field]

    public init(source: String, name: String, device: String = "", fields: [Field] = []) {
        self.source = source
        self.name = name
        self.device = device
        self.fields = fields
    }

    public subscript(key: String) -> String? {
        fields.first { $0.key == key }?.value
    }
}
