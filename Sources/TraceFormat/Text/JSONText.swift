/// Minimal JSON writing without Foundation (dump emits millions of lines).
public struct JSONText {
    /// The object so far, as bytes (no String per piece: dump writes millions of these).
    private(set) var out = TextBuffer(capacity: 256)
    private var first = true

    public init() { out.byte(0x7B) }

    /// A JSON string literal with escaping per RFC 8259.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// `s` as a JSON string literal, appended to `b` (RFC 8259 escaping; ASCII without controls, quotes or
    /// backslashes copied as it is).
    static func quote(_ s: String, into b: inout TextBuffer) {
        var s = s
        let plain = s.withUTF8 { isPlain($0) }
        guard !plain else {
            b.byte(0x22)
            b.append(s)
            b.byte(0x22)
            return
        }
        b.append(quote(s))
    }

    /// The same, written through `b` (the lines of a long report).
    public static func quote(_ s: String, into b: inout ByteCursor) {
        var s = s
        let plain = s.withUTF8 { isPlain($0) }
        guard !plain else {
            b.byte(0x22)
            b.append(s)
            b.byte(0x22)
            return
        }
        b.append(quote(s))
    }

    /// True when UTF-8 text `u` goes into a JSON string literal as it is: no controls, quotes or backslashes.
    @inline(__always)
    static func isPlain(_ u: UnsafeBufferPointer<UInt8>) -> Bool { !u.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C } }

    private mutating func key(_ k: StaticString) {
        if !first { out.byte(0x2C) }
        first = false
        out.byte(0x22)
        out.append(k)
        out.append("\":")
    }

    public mutating func add(_ k: StaticString, _ v: String) { key(k); Self.quote(v, into: &out) }
    public mutating func add(_ k: StaticString, _ v: UInt64) { key(k); out.decimal(v) }
    public mutating func add(_ k: StaticString, _ v: Int64) { key(k); out.decimal(v) }
    public mutating func add(_ k: StaticString, _ v: UInt32) { key(k); out.decimal(v) }
    public mutating func add(_ k: StaticString, _ v: Int32) { key(k); out.decimal(v) }
    public mutating func add(_ k: StaticString, _ v: Int) { key(k); out.decimal(Int64(v)) }
    public mutating func add(_ k: StaticString, _ v: UInt8) { key(k); out.decimal(UInt64(v)) }
    public mutating func add(_ k: StaticString, _ v: Bool) { key(k); out.append(v ? "true" : "false") }
    public mutating func addRaw(_ k: StaticString, _ json: String) { key(k); out.append(json) }
    public mutating func add(_ k: StaticString, _ v: [Int32]) {
        key(k)
        out.byte(0x5B)
        for (i, x) in v.enumerated() {
            if i > 0 { out.byte(0x2C) }
            out.decimal(x)
        }
        out.byte(0x5D)
    }

    /// The object's bytes, closed.
    public var bytes: [UInt8] {
        var b = out
        b.byte(0x7D)
        return b.bytes
    }

    public var result: String { String(decoding: bytes, as: UTF8.self) }
}

/// Renders events as JSON objects (one per line for `dump --format jsonl`).
public enum EventJSON {
    public static func line(_ e: TraceEvent) -> String { String(decoding: bytes(e), as: UTF8.self) }

    /// The object's bytes (what `dump --format jsonl` writes).
    public static func bytes(_ e: TraceEvent) -> [UInt8] {
        var b = TextBuffer(capacity: 256)
        var cache = RenderCache(.json)
        LineScratch().write(into: &b) { write(OwnedEventFields(e), &cache, into: &$0) }
        return b.bytes
    }

    /// `,"key":`: every key but the first ("kind") follows another.
    @inline(__always)
    private static func key(_ k: StaticString, into b: inout ByteCursor) {
        b.append(",\"")
        b.append(k)
        b.append("\":")
    }

    @inline(__always) private static func add(_ k: StaticString, _ v: UInt64, into b: inout ByteCursor) { key(k, into: &b); b.decimal(v) }
    @inline(__always) private static func add(_ k: StaticString, _ v: Int64, into b: inout ByteCursor) { key(k, into: &b); b.decimal(v) }
    @inline(__always) private static func add(_ k: StaticString, _ v: UInt32, into b: inout ByteCursor) { key(k, into: &b); b.decimal(v) }
    @inline(__always) private static func add(_ k: StaticString, _ v: Int32, into b: inout ByteCursor) { key(k, into: &b); b.decimal(v) }
    /// Our own text (a name from a table), quoted.
    @inline(__always) private static func add(_ k: StaticString, _ v: String, _ cache: inout RenderCache, into b: inout ByteCursor) {
        key(k, into: &b)
        cache.strings.escape(v, into: &b)
    }
    /// String field `i` of the event.
    @inline(__always)
    private static func add<F: EventFieldSource>(_ k: StaticString, string i: Int, of f: F, _ cache: inout RenderCache, into b: inout ByteCursor) {
        key(k, into: &b)
        f.writeString(i, &cache.strings, into: &b)
    }

    /// Appends the object for the event `f` reads to `b`: owned events and views alike. Fields are numbered as
    /// `ColumnSchema` numbers them (see `EventText.body`).
    @inline(__always)
    static func write<F: EventFieldSource>(_ f: F, _ cache: inout RenderCache, into b: inout ByteCursor) {
        let h = f.header
        b.append("{\"kind\":")
        cache.write(f.kind, into: &b)
        add("timeNs", h.time, into: &b)
        add("endTimeNs", h.endTime, into: &b)
        add("pid", h.pid, into: &b)
        add("tid", h.tid, into: &b)
        add("result", h.result, into: &b)
        switch f.kind {
        case .vfioIoctl:
            let target = f.choice(1, FdKind.unknown)
            add("fd", f.int32(0), into: &b); key("target", into: &b); cache.write(target, into: &b); add("device", string: 2, of: f, &cache, into: &b)
            add("request", f.uint32(3), into: &b)
            key("name", into: &b); cache.writeIoctlName(request: f.uint32(3), target: target, into: &b)
            add("argument", f.argumentBytes().map { x in x < 16 ? "0" + String(x, radix: 16) : String(x, radix: 16) }.joined(), &cache, into: &b)
        case .ioctl:
            let target = f.choice(1, FdKind.unknown)
            add("fd", f.int32(0), into: &b); key("target", into: &b); cache.write(target, into: &b); add("request", f.uint32(2), into: &b)
            key("name", into: &b); cache.writeIoctlName(request: f.uint32(2), target: target, into: &b)
            add("argument", f.field(3), into: &b)
        case .deviceOpen:
            add("fd", f.int32(0), into: &b); add("groupFd", f.int32(1), into: &b); add("device", string: 2, of: f, &cache, into: &b)
        case .regionInfo:
            add("fd", f.int32(0), into: &b); add("device", string: 1, of: f, &cache, into: &b); add("index", f.uint32(2), into: &b)
            add("flags", f.uint32(3), into: &b); add("size", f.field(4), into: &b); add("offset", f.field(5), into: &b)
            if f.field(6) != 0 {
                key("regionType", into: &b)
                b.append("{\"type\":"); b.decimal(f.uint32(7)); b.append(",\"subtype\":"); b.decimal(f.uint32(8)); b.byte(0x7D)
            }
            if let areas = f.sparseAreaList() {
                key("sparseAreas", into: &b)
                b.byte(0x5B)
                for (i, a) in areas.enumerated() {
                    if i > 0 { b.byte(0x2C) }
                    b.append("{\"offset\":"); b.decimal(a.offset); b.append(",\"size\":"); b.decimal(a.size); b.byte(0x7D)
                }
                b.byte(0x5D)
            }
        case .irqBinding:
            add("fd", f.int32(0), into: &b); add("device", string: 1, of: f, &cache, into: &b); add("index", f.uint32(2), into: &b)
            add("start", f.uint32(3), into: &b); add("count", f.uint32(4), into: &b); add("flags", f.uint32(5), into: &b)
            key("eventfds", into: &b)
            b.byte(0x5B)
            for (i, x) in f.eventfdList().enumerated() {
                if i > 0 { b.byte(0x2C) }
                b.decimal(x)
            }
            b.byte(0x5D)
        case .deviceState:
            let proto = f.choice(2, DeviceStateChange.MigrationProtocol.v2)
            let set = f.choice(3, DeviceStateChange.Operation.get) == .set
            add("fd", f.int32(0), into: &b); add("device", string: 1, of: f, &cache, into: &b)
            add("protocol", UInt32(proto.rawValue), into: &b); add("operation", set ? "set" : "get", &cache, into: &b)
            add("requested", f.uint32(4), into: &b); add("resulting", f.uint32(5), into: &b)
            add("state", MigrationStateNames.name(set ? f.uint32(4) : f.uint32(5), protocol: proto), &cache, into: &b)
            add("dataFd", f.int32(6), into: &b)
        case .mapping:
            let names: [String] = ["mmap", "munmap", "mremap"]
            add("operation", names[Int(f.choice(0, MappingChange.Operation.mmap).rawValue)], &cache, into: &b); add("fd", f.int32(1), into: &b)
            add("device", string: 2, of: f, &cache, into: &b); add("region", f.int32(3), into: &b)
            add("regionOffset", f.field(4), into: &b); add("address", f.field(5), into: &b); add("length", f.field(6), into: &b)
            add("newAddress", f.field(7), into: &b); add("newLength", f.field(8), into: &b); add("prot", f.uint32(9), into: &b)
            add("flags", f.uint32(10), into: &b); add("fileOffset", f.field(11), into: &b)
        case .memslot:
            add("vmFd", f.int32(0), into: &b); add("slot", f.uint32(1), into: &b); add("flags", f.uint32(2), into: &b)
            add("guestPhys", f.field(3), into: &b); add("size", f.field(4), into: &b); add("userAddress", f.field(5), into: &b)
        case .eventfd:
            switch f.choice(0, EventfdOp.Operation.read) {
            case .create: b.append(",\"operation\":\"create\"")
            case .read: b.append(",\"operation\":\"read\"")
            case .write: b.append(",\"operation\":\"write\"")
            }
            add("fd", f.int32(1), into: &b); add("value", f.field(2), into: &b); add("flags", f.uint32(3), into: &b)
        case .irqfd:
            add("vmFd", f.int32(0), into: &b); add("fd", f.int32(1), into: &b); add("gsi", f.uint32(2), into: &b)
            add("flags", f.uint32(3), into: &b); add("resampleFd", f.int32(4), into: &b)
        case .regionAccess:
            b.append(f.choice(0, RegionAccess.Operation.read) == .read ? ",\"operation\":\"read\"" : ",\"operation\":\"write\"")
            add("fd", f.int32(1), into: &b); add("device", string: 2, of: f, &cache, into: &b); add("region", f.int32(3), into: &b)
            add("offset", f.field(4), into: &b); add("length", f.field(5), into: &b); add("value", f.field(6), into: &b)
        case .fd:
            let names: [String] = ["open", "close", "dup"]
            add("operation", names[Int(f.choice(0, FdChange.Operation.open).rawValue)], &cache, into: &b); add("fd", f.int32(1), into: &b)
            add("sourceFd", f.int32(2), into: &b); key("fdKind", into: &b); cache.write(f.choice(3, FdKind.unknown), into: &b)
            add("path", string: 4, of: f, &cache, into: &b)
        case .process:
            let names: [String] = ["attach", "spawn", "thread", "fork", "exec", "exit", "detach", "signal"]
            add("operation", names[Int(f.choice(0, ProcessChange.Operation.exit).rawValue)], &cache, into: &b)
            add("target", f.int32(1), into: &b); add("status", f.int32(2), into: &b); add("command", string: 3, of: f, &cache, into: &b)
        case .marker:
            add("source", string: 0, of: f, &cache, into: &b); add("name", string: 1, of: f, &cache, into: &b)
            add("device", string: 2, of: f, &cache, into: &b)
            key("fields", into: &b)
            b.byte(0x7B)
            for (i, x) in f.markerFieldList().enumerated() {
                if i > 0 { b.byte(0x2C) }
                cache.strings.escape(x.key, into: &b)
                b.byte(0x3A)
                cache.strings.escape(x.value, into: &b)
            }
            b.byte(0x7D)
        case .lost:
            add("count", f.field(0), into: &b); add("fromNs", f.field(1), into: &b); add("toNs", f.field(2), into: &b)
        }
        b.byte(0x7D)
    }
}
