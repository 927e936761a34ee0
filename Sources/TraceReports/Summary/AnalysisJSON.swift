public import TraceAnalysis
import TraceFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Writes `AnalysisResult` as JSON one list element at a time, so a result with hundreds of thousands
/// of triggers does not build its whole JSON tree in memory first (Foundation's encoder does).
public enum AnalysisJSON {
    /// Streams the JSON text of `r` to `write` (same keys and values as `JSONEncoder` with sorted keys).
    public static func write(_ r: AnalysisResult, pretty: Bool = true, to write: (String) -> Void) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        /// `v` encoded, its lines after the first indented by `indent` where pretty (by one level, so the document
        /// stays readable; list elements by three).
        func json<T: Encodable>(_ v: T, indent: String = "  ") throws -> String {
            let data = try enc.encode(v)
            return pretty ? Self.indenting(data, by: indent) : String(decoding: data, as: UTF8.self)
        }
        /// Writes a list element by element (`line` renders one element on one line; long lists stay cheap).
        func list<T: Encodable>(_ items: [T], line: ((T, inout ByteCursor) -> Void)? = nil) throws {
            if items.isEmpty { return write("[]") }
            var out = TextBuffer(capacity: 1 << 16 + 1024)
            let scratch = LineScratch()
            out.byte(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { out.byte(0x2C) }
                if pretty { out.append("\n    ") }
                if let line {
                    scratch.write(into: &out) { line(item, &$0) }
                } else {
                    out.append(try json(item, indent: "      "))
                }
                if out.count > 1 << 16 {
                    write(String(decoding: out.bytes, as: UTF8.self))
                    out.removeAll()
                }
            }
            out.append(pretty ? "\n  ]" : "]")
            write(String(decoding: out.bytes, as: UTF8.self))
        }
        let nl = pretty ? "\n" : ""
        let sp = pretty ? "  " : ""
        var first = true
        func key(_ name: String) {
            write((first ? "" : "," + nl) + sp + "\"\(name)\"" + (pretty ? " : " : ":"))
            first = false
        }
        write("{" + nl)
        // Keys in sorted order, as JSONEncoder's .sortedKeys would write them.
        key("devices"); try list(r.devices)
        key("endNs"); write(try json(r.endNs))
        key("errors"); write(try json(r.errors))
        key("events"); write(try json(r.events))
        key("files"); write(try json(r.files))
        key("findings"); try list(r.findings, line: finding(_:into:))
        key("gaps"); try list(r.gaps, line: gap(_:into:))
        key("policy"); write(try json(r.policy))
        key("remapLatency"); write(try json(r.remapLatency))
        key("restoreLatency"); write(try json(r.restoreLatency))
        key("restores"); try list(r.restores, line: restore(_:into:))
        key("startNs"); write(try json(r.startNs))
        key("triggers"); try list(r.triggers, line: trigger(_:into:))
        key("verdict"); write(try json(r.verdict))
        key("warnings"); write(try json(r.warnings))
        write(nl + "}" + nl)
    }

    /// The encoder's text with `indent` after every newline. It escapes a newline inside a string, so each one is
    /// a line break of its own layout. A byte loop, not Foundation's `replacingOccurrences`, which goes through
    /// NSString: at start-up that cost about as much as the rest of this writer (BENCHMARKS.md, "Start-up").
    static func indenting(_ json: Data, by indent: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(json.count + json.count / 4)
        for b in json {
            out.append(b)
            if b == 0x0A { out.append(contentsOf: indent.utf8) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // List lines are written as bytes through a pointer (no String per piece, no array append per piece: a long
    // trace has tens of thousands), each then appended to the buffer at once.

    static func gap(_ g: TrapGap, into out: inout ByteCursor) {
        out.append("{\"cause\":")
        JSONText.quote(g.cause, into: &out)
        out.append(",\"device\":")
        JSONText.quote(g.device, into: &out)
        out.append(",\"durationNs\":")
        out.decimal(g.durationNs)
        out.append(",\"endNs\":")
        if let end = g.endNs { out.decimal(end) } else { out.append("null") }
        out.append(",\"length\":")
        out.decimal(g.length)
        out.append(",\"offset\":")
        out.decimal(g.offset)
        out.append(",\"region\":")
        out.decimal(g.region)
        out.append(",\"startNs\":")
        out.decimal(g.startNs)
        out.append(",\"trappedAccesses\":")
        out.decimal(g.trappedAccesses)
        out.byte(0x7D)
    }

    /// `key` and the value, or nothing where it is nil (as JSONEncoder leaves out a nil optional).
    private static func optional(_ key: StaticString, _ v: UInt64?, into out: inout ByteCursor) {
        guard let v else { return }
        out.append(key)
        out.decimal(v)
    }

    private static func optional(_ key: StaticString, _ v: Int64?, into out: inout ByteCursor) {
        guard let v else { return }
        out.append(key)
        out.decimal(v)
    }

    static func trigger(_ t: RemapTrigger, into out: inout ByteCursor) {
        out.append("{\"device\":")
        JSONText.quote(t.device, into: &out)
        if let v = t.effectiveEvidence {
            out.append(",\"effectiveEvidence\":")
            JSONText.quote(v, into: &out)
        }
        optional(",\"effectiveNs\":", t.effectiveNs, into: &out)
        out.append(",\"kind\":")
        JSONText.quote(t.kind, into: &out)
        optional(",\"latencyNs\":", t.latencyNs, into: &out)
        optional(",\"reevaluationNs\":", t.reevaluationNs, into: &out)
        out.append(",\"timeNs\":")
        out.decimal(t.timeNs)
        optional(",\"wakeupNs\":", t.wakeupNs, into: &out)
        out.byte(0x7D)
    }

    static func restore(_ r: RestoreEvent, into out: inout ByteCursor) {
        out.append("{\"device\":")
        JSONText.quote(r.device, into: &out)
        optional(",\"latencyNs\":", r.latencyNs, into: &out)
        out.append(",\"timeNs\":")
        out.decimal(r.timeNs)
        out.byte(0x7D)
    }

    static func finding(_ f: Finding, into out: inout ByteCursor) { out.append(finding(f)) }

    static func finding(_ f: Finding) -> String {
        var s = "{"
        if let d = f.device { s += "\"device\":\(JSONText.quote(d))," }
        s +=
            "\"kind\":\(JSONText.quote(f.kind.rawValue)),\"message\":\(JSONText.quote(f.message)),\"severity\":\(JSONText.quote(f.severity.rawValue))"
        if let t = f.timeNs { s += ",\"timeNs\":\(t)" }
        return s + "}"
    }
}
