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
        let plain = s.withUTF8 { u in !u.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C } }
        guard !plain else {
            b.byte(0x22)
            b.append(s)
            b.byte(0x22)
            return
        }
        b.append(quote(s))
    }

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
        var j = JSONText()
        j.add("kind", e.kind.name)
        j.add("timeNs", e.time)
        j.add("endTimeNs", e.endTime)
        j.add("pid", e.pid)
        j.add("tid", e.tid)
        j.add("result", e.result)
        switch e.payload {
        case .vfioIoctl(let p):
            j.add("fd", p.fd); j.add("target", p.target.name); j.add("device", p.device); j.add("request", p.request)
            j.add("name", IoctlNames.name(request: p.request, target: p.target))
            j.add("argument", p.argument.map { b in b < 16 ? "0" + String(b, radix: 16) : String(b, radix: 16) }.joined())
        case .ioctl(let p):
            j.add("fd", p.fd); j.add("target", p.target.name); j.add("request", p.request)
            j.add("name", IoctlNames.name(request: p.request, target: p.target)); j.add("argument", p.argument)
        case .deviceOpen(let p):
            j.add("fd", p.fd); j.add("groupFd", p.groupFd); j.add("device", p.device)
        case .regionInfo(let p):
            j.add("fd", p.fd); j.add("device", p.device); j.add("index", p.index); j.add("flags", p.flags)
            j.add("size", p.size); j.add("offset", p.offset)
            if let t = p.regionType { j.addRaw("regionType", "{\"type\":\(t.type),\"subtype\":\(t.subtype)}") }
            if let a = p.sparseAreas {
                j.addRaw("sparseAreas", "[" + a.map { "{\"offset\":\($0.offset),\"size\":\($0.size)}" }.joined(separator: ",") + "]")
            }
        case .irqBinding(let p):
            j.add("fd", p.fd); j.add("device", p.device); j.add("index", p.index); j.add("start", p.start)
            j.add("count", p.count); j.add("flags", p.flags); j.add("eventfds", p.eventfds)
        case .deviceState(let p):
            j.add("fd", p.fd); j.add("device", p.device); j.add("protocol", p.migrationProtocol.rawValue)
            j.add("operation", p.operation == .set ? "set" : "get"); j.add("requested", p.requested); j.add("resulting", p.resulting)
            j.add("state", MigrationStateNames.name(p.operation == .set ? p.requested : p.resulting, protocol: p.migrationProtocol))
            j.add("dataFd", p.dataFd)
        case .mapping(let p):
            j.add("operation", ["mmap", "munmap", "mremap"][Int(p.operation.rawValue)]); j.add("fd", p.fd); j.add("device", p.device)
            j.add("region", p.region); j.add("regionOffset", p.regionOffset); j.add("address", p.address); j.add("length", p.length)
            j.add("newAddress", p.newAddress); j.add("newLength", p.newLength); j.add("prot", p.prot); j.add("flags", p.flags)
            j.add("fileOffset", p.fileOffset)
        case .memslot(let p):
            j.add("vmFd", p.vmFd); j.add("slot", p.slot); j.add("flags", p.flags); j.add("guestPhys", p.guestPhys)
            j.add("size", p.size); j.add("userAddress", p.userAddress)
        case .eventfd(let p):
            j.add("operation", ["create", "read", "write"][Int(p.operation.rawValue)]); j.add("fd", p.fd)
            j.add("value", p.value); j.add("flags", p.flags)
        case .irqfd(let p):
            j.add("vmFd", p.vmFd); j.add("fd", p.fd); j.add("gsi", p.gsi); j.add("flags", p.flags); j.add("resampleFd", p.resampleFd)
        case .regionAccess(let p):
            j.add("operation", p.operation == .read ? "read" : "write"); j.add("fd", p.fd); j.add("device", p.device)
            j.add("region", p.region); j.add("offset", p.offset); j.add("length", p.length); j.add("value", p.value)
        case .fd(let p):
            j.add("operation", ["open", "close", "dup"][Int(p.operation.rawValue)]); j.add("fd", p.fd); j.add("sourceFd", p.sourceFd)
            j.add("fdKind", p.kind.name); j.add("path", p.path)
        case .process(let p):
            j.add("operation", ["attach", "spawn", "thread", "fork", "exec", "exit", "detach", "signal"][Int(p.operation.rawValue)])
            j.add("target", p.target); j.add("status", p.status); j.add("command", p.command)
        case .marker(let p):
            j.add("source", p.source); j.add("name", p.name); j.add("device", p.device)
            j.addRaw("fields", "{" + p.fields.map { JSONText.quote($0.key) + ":" + JSONText.quote($0.value) }.joined(separator: ",") + "}")
        case .lost(let p):
            j.add("count", p.count); j.add("fromNs", p.fromNs); j.add("toNs", p.toNs)
        }
        return j.bytes
    }
}
