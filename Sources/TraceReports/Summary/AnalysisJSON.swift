import Foundation
public import TraceAnalysis
import TraceFormat

/// Writes `AnalysisResult` as JSON one list element at a time, so a result with hundreds of thousands
/// of triggers does not build its whole JSON tree in memory first (Foundation's encoder does).
public enum AnalysisJSON {
    /// Streams the JSON text of `r` to `write` (same keys and values as `JSONEncoder` with sorted keys).
    public static func write(_ r: AnalysisResult, pretty: Bool = true, to write: (String) -> Void) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        func json<T: Encodable>(_ v: T) throws -> String {
            let s = String(decoding: try enc.encode(v), as: UTF8.self)
            // Indent nested pretty output by one level so the document stays readable.
            return pretty ? s.replacingOccurrences(of: "\n", with: "\n  ") : s
        }
        /// Writes a list element by element (`line` renders one element on one line; long lists stay cheap).
        func list<T: Encodable>(_ items: [T], line: ((T) -> String)? = nil) throws {
            if items.isEmpty { return write("[]") }
            var out = "["
            out.reserveCapacity(1 << 16 + 1024)
            for (i, item) in items.enumerated() {
                let text = try line?(item) ?? (try json(item)).replacingOccurrences(of: "\n  ", with: pretty ? "\n      " : "")
                if i > 0 { out.append(",") }
                if pretty { out.append("\n    ") }
                out.append(text)
                if out.utf8.count > 1 << 16 {
                    write(out)
                    out = ""
                }
            }
            write(out + (pretty ? "\n  ]" : "]"))
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
        key("findings"); try list(r.findings, line: finding)
        key("gaps"); try list(r.gaps, line: gap)
        key("policy"); write(try json(r.policy))
        key("remapLatency"); write(try json(r.remapLatency))
        key("restoreLatency"); write(try json(r.restoreLatency))
        key("restores"); try list(r.restores, line: restore)
        key("startNs"); write(try json(r.startNs))
        key("triggers"); try list(r.triggers, line: trigger)
        key("verdict"); write(try json(r.verdict))
        key("warnings"); write(try json(r.warnings))
        write(nl + "}" + nl)
    }

    private static func optional(_ v: UInt64?) -> String { v.map { "\($0)" } ?? "null" }

    /// `JSONText.quote(s)`, without its scalar-by-scalar copy for the usual name (ASCII, nothing to escape):
    /// a report of many triggers quotes a device name for each.
    static func quoted(_ s: String) -> String {
        var s = s
        let plain = s.withUTF8 { u in !u.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= 0x80 } }
        return plain ? "\"" + s + "\"" : JSONText.quote(s)
    }

    static func gap(_ g: TrapGap) -> String {
        "{\"cause\":\(quoted(g.cause)),\"device\":\(quoted(g.device)),\"durationNs\":\(g.durationNs),\"endNs\":\(optional(g.endNs)),"
            + "\"length\":\(g.length),\"offset\":\(g.offset),\"region\":\(g.region),\"startNs\":\(g.startNs),\"trappedAccesses\":\(g.trappedAccesses)}"
    }

    static func trigger(_ t: RemapTrigger) -> String {
        // Keys absent when nil, as JSONEncoder writes optionals.
        var s = "{\"device\":\(quoted(t.device))"
        if let v = t.effectiveEvidence { s += ",\"effectiveEvidence\":\(quoted(v))" }
        if let v = t.effectiveNs { s += ",\"effectiveNs\":\(v)" }
        s += ",\"kind\":\(quoted(t.kind))"
        if let v = t.latencyNs { s += ",\"latencyNs\":\(v)" }
        if let v = t.reevaluationNs { s += ",\"reevaluationNs\":\(v)" }
        s += ",\"timeNs\":\(t.timeNs)"
        if let v = t.wakeupNs { s += ",\"wakeupNs\":\(v)" }
        return s + "}"
    }

    static func restore(_ r: RestoreEvent) -> String {
        var s = "{\"device\":\(quoted(r.device))"
        if let v = r.latencyNs { s += ",\"latencyNs\":\(v)" }
        return s + ",\"timeNs\":\(r.timeNs)}"
    }

    static func finding(_ f: Finding) -> String {
        var s = "{"
        if let d = f.device { s += "\"device\":\(JSONText.quote(d))," }
        s +=
            "\"kind\":\(JSONText.quote(f.kind.rawValue)),\"message\":\(JSONText.quote(f.message)),\"severity\":\(JSONText.quote(f.severity.rawValue))"
        if let t = f.timeNs { s += ",\"timeNs\":\(t)" }
        return s + "}"
    }
}
