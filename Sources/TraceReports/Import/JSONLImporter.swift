import Foundation
public import TraceFormat

/// Imports driver-side and kernel-side events written as JSON Lines (format: docs/IMPORT.md) into a trace.
public struct JSONLImporter {
    public var strict = false
    /// Called for every skipped line (non-strict mode).
    public var warn: (ImportProblem) -> Void = { _ in }
    /// The clock pair of a recording made on the same host (`--clock-from`): the log's monotonic times are that
    /// recording's monotonic times, so the trace takes its pair and `merge` leaves them as they are (exact,
    /// where two pairs read seconds apart can disagree by the drift between the clocks). Clock lines in the log
    /// then serve only to map its realtime times.
    public var sameClockAs: ClockSample?

    public init(sameClockAs: ClockSample? = nil) { self.sameClockAs = sameClockAs }

    /// Reads `source`, writes `output` as it goes; returns the number of events written.
    public func run(_ source: LogSource, output: String) throws -> Int {
        // Without a clock line, times are taken as they are (monotonic == realtime, so merge keeps them).
        let trace = try ImportedTrace(
            output: output, format: "jsonl", input: source.name, clock: sameClockAs ?? ClockSample(monotonicNs: 0, realtimeNs: 0), ordered: true)
        var clock: ClockSample?
        try LogLines.scan(source) { number, bytes in
            if bytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { return }
            do {
                let line = Data(bytes.lazy.filter { $0 != UInt8(ascii: "\r") })
                guard let obj = (try? JSONSerialization.jsonObject(with: line)).flatMap({ $0 as? [String: Any] }) else {
                    throw LineRejection((try? JSONSerialization.jsonObject(with: line)) == nil ? "invalid JSON" : "not a JSON object")
                }
                if let c = obj["clock"] as? [String: Any], obj["kind"] == nil {
                    let pair = try Self.clockPair(c)
                    clock = pair
                    if sameClockAs == nil { trace.clock = pair }
                    return
                }
                let event = try event(obj, clock: clock)
                guard try trace.add(event) else { throw LineRejection(ImportedTrace.outOfOrder(event.time)) }
            } catch let r as LineRejection {
                try reject(ImportProblem(path: source.name, line: number, message: r.message))
            }
        } tooLong: {
            try rejectTooLong(source, line: $0)
        }
        return try trace.finish()
    }

    /// A clock line's pair; its realtime − monotonic offset must fit in 64-bit signed ns (merge adds it to times).
    static func clockPair(_ c: [String: Any]) throws(LineRejection) -> ClockSample {
        guard let m = uint(c["monotonicNs"]), let r = uint(c["realtimeNs"]) else {
            throw LineRejection("clock line needs monotonicNs and realtimeNs (non-negative integers)")
        }
        guard (r >= m ? r - m : m - r) <= UInt64(Int64.max) else {
            throw LineRejection("clock line: realtimeNs − monotonicNs (\(r) − \(m)) does not fit in 64-bit signed ns")
        }
        return ClockSample(monotonicNs: m, realtimeNs: r)
    }

    /// A field's value as text: an object or an array as compact JSON with its keys sorted (a dictionary's own
    /// description lists them in hash order, different from run to run); anything else as Foundation prints it.
    static func text(_ v: Any) -> String {
        guard v is [String: Any] || v is [Any],
            let data = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return "\(v)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A non-negative integer (a JSON number that is one exactly, or a decimal / `0x` hex string); nil otherwise.
    static func uint(_ v: Any?) -> UInt64? {
        if let s = v as? String {
            let digits = s.hasPrefix("0x") ? s.dropFirst(2) : Substring(s)
            guard !digits.isEmpty, digits.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || (s.hasPrefix("0x") && isHexLetter($0)) }) else {
                return nil
            }
            return UInt64(digits, radix: s.hasPrefix("0x") ? 16 : 10)
        }
        // JSON true/false arrive as NSNumber too; a boolean is not a number here.
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        return UInt64(exactly: n)
    }

    static func isHexLetter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }

    /// `realtime` (ns) mapped through `clock` to the source's CLOCK_MONOTONIC; nil when it falls outside 0...2^64−1.
    static func monotonic(realtime: UInt64, clock c: ClockSample) -> UInt64? {
        // realtime − (realtimeNs − monotonicNs), in an order that cannot leave UInt64 unnoticed.
        if realtime >= c.realtimeNs {
            let (t, overflow) = (realtime - c.realtimeNs).addingReportingOverflow(c.monotonicNs)
            return overflow ? nil : t
        }
        let before = c.realtimeNs - realtime
        return c.monotonicNs >= before ? c.monotonicNs - before : nil
    }

    private func event(_ o: [String: Any], clock: ClockSample?) throws(LineRejection) -> TraceEvent {
        func fail(_ m: String) -> LineRejection { LineRejection(m) }
        guard var t = Self.uint(o["t"]) else { throw fail("missing or invalid \"t\" (nanoseconds, a non-negative integer below 2^64)") }
        let timebase = o["clock"] as? String ?? "monotonic"
        switch timebase {
        case "monotonic": break
        case "realtime":
            guard let c = clock else { throw fail("\"clock\": \"realtime\" needs a clock line first to map it to CLOCK_MONOTONIC") }
            guard let m = Self.monotonic(realtime: t, clock: c) else {
                throw fail("realtime \"t\" \(t) maps outside CLOCK_MONOTONIC's range through the clock line (\(c.realtimeNs) ↔ \(c.monotonicNs))")
            }
            t = m
        default: throw fail("\"clock\" must be \"monotonic\" or \"realtime\", not \"\(LogTimestamp.quoted(timebase))\"")
        }
        guard let kind = o["kind"] as? String else { throw fail("missing \"kind\"") }
        let device = o["device"] as? String ?? ""
        let source = o["source"] as? String ?? "jsonl"
        func id(_ key: String, _ fallback: Int32) throws(LineRejection) -> Int32 {
            guard let v = o[key] else { return fallback }
            guard let n = Self.uint(v), let id = Int32(exactly: n) else { throw fail("\"\(key)\" must be an integer from 0 to \(Int32.max)") }
            return id
        }
        let pid = try id("pid", 0), tid = try id("tid", pid)
        func marker(_ name: String, _ keys: [String]) -> TraceEvent {
            var fields: [Marker.Field] = []
            for k in keys {
                if let v = o[k] { fields.append(.init(k, Self.text(v))) }
            }
            if let extra = o["fields"] as? [String: Any] {
                for (k, v) in extra.sorted(by: { $0.key < $1.key }) { fields.append(.init(k, Self.text(v))) }
            }
            return TraceEvent(time: t, pid: pid, tid: tid, payload: .marker(Marker(source: source, name: name, device: device, fields: fields)))
        }
        switch kind {
        case "trap.on", "trap.off", "mmap.revoke", "mmap.restore":
            guard !device.isEmpty, Self.uint(o["region"]) != nil else { throw fail("\(kind) needs \"device\" and \"region\"") }
            return marker(kind, ["region", "offset", "length"])
        case "irq.signal":
            guard !device.isEmpty, Self.uint(o["index"]) != nil else { throw fail("irq.signal needs \"device\" and \"index\"") }
            return marker(kind, ["index", "vector"])
        case "marker":
            guard let name = o["name"] as? String else { throw fail("marker needs \"name\"") }
            return marker(name, [])
        case "device_state":
            guard !device.isEmpty, let p = Self.uint(o["protocol"]), p == 1 || p == 2, let s = Self.uint(o["state"]), s <= UInt64(UInt32.max) else {
                throw fail("device_state needs \"device\", \"protocol\" (1 or 2) and \"state\"")
            }
            return TraceEvent(
                time: t, pid: pid, tid: tid,
                payload: .deviceState(
                    DeviceStateChange(
                        fd: -1, device: device, migrationProtocol: p == 1 ? .v1 : .v2, requested: UInt32(s), resulting: UInt32(s))))
        default:
            throw fail(
                "unknown kind \"\(LogTimestamp.quoted(kind))\" (trap.on, trap.off, mmap.revoke, mmap.restore, irq.signal, marker, device_state)")
        }
    }
}
