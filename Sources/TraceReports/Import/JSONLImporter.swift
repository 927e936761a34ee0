import Foundation
import TraceFormat

/// Imports driver-side and kernel-side events written as JSON Lines (format: docs/IMPORT.md) into a trace.
public struct JSONLImporter {
    public var strict = false
    /// Called for every skipped line (non-strict mode).
    public var warn: (ImportProblem) -> Void = { _ in }

    public init() {}

    /// Reads `input`, writes `output`; returns the number of events written.
    @discardableResult
    public func run(input: String, output: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: input) else {
            throw ImportProblem(path: input, line: 0, message: "cannot read the file")
        }
        var clock: ClockSample?
        var events: [TraceEvent] = []
        var lineNumber = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.filter { $0 != UInt8(ascii: "\r") }
            if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
            do {
                guard let obj = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw ImportProblem(path: input, line: lineNumber, message: "not a JSON object")
                }
                if let c = obj["clock"] as? [String: Any], obj["kind"] == nil {
                    guard let m = Self.uint(c["monotonicNs"]), let r = Self.uint(c["realtimeNs"]) else {
                        throw ImportProblem(path: input, line: lineNumber, message: "clock line needs monotonicNs and realtimeNs")
                    }
                    clock = ClockSample(monotonicNs: m, realtimeNs: r)
                    continue
                }
                events.append(try event(obj, clock: clock, path: input, line: lineNumber))
            } catch let p as ImportProblem {
                if strict { throw p }
                warn(p)
            } catch {
                let p = ImportProblem(path: input, line: lineNumber, message: "invalid JSON")
                if strict { throw p }
                warn(p)
            }
        }
        events.sort { $0.time < $1.time }
        // Without a clock line, times are taken as they are (monotonic == realtime, so merge keeps them).
        return try Self.writeTrace(events, to: output, format: "jsonl", input: input, clock: clock ?? ClockSample(monotonicNs: 0, realtimeNs: 0))
    }

    static func uint(_ v: Any?) -> UInt64? {
        if let n = v as? NSNumber { return n.int64Value >= 0 ? UInt64(n.int64Value) : nil }
        if let s = v as? String { return s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s) }
        return nil
    }

    private func event(_ o: [String: Any], clock: ClockSample?, path: String, line: Int) throws -> TraceEvent {
        func fail(_ m: String) -> ImportProblem { ImportProblem(path: path, line: line, message: m) }
        guard var t = Self.uint(o["t"]) else { throw fail("missing or invalid \"t\" (nanoseconds)") }
        let timebase = o["clock"] as? String ?? "monotonic"
        switch timebase {
        case "monotonic": break
        case "realtime":
            guard let c = clock else { throw fail("\"clock\": \"realtime\" needs a clock line first to map it to CLOCK_MONOTONIC") }
            t = UInt64(bitPattern: Int64(bitPattern: t) - c.offsetNs)
        default: throw fail("\"clock\" must be \"monotonic\" or \"realtime\", not \"\(timebase)\"")
        }
        guard let kind = o["kind"] as? String else { throw fail("missing \"kind\"") }
        let device = o["device"] as? String ?? ""
        let source = o["source"] as? String ?? "jsonl"
        let pid = Int32(truncatingIfNeeded: Self.uint(o["pid"]) ?? 0), tid = Int32(truncatingIfNeeded: Self.uint(o["tid"]) ?? UInt64(pid))
        func marker(_ name: String, _ keys: [String]) throws -> TraceEvent {
            var fields: [Marker.Field] = []
            for k in keys {
                if let v = o[k] { fields.append(.init(k, "\(v)")) }
            }
            if let extra = o["fields"] as? [String: Any] {
                for (k, v) in extra.sorted(by: { $0.key < $1.key }) { fields.append(.init(k, "\(v)")) }
            }
            return TraceEvent(time: t, pid: pid, tid: tid, payload: .marker(Marker(source: source, name: name, device: device, fields: fields)))
        }
        switch kind {
        case "trap.on", "trap.off":
            guard !device.isEmpty, Self.uint(o["region"]) != nil else { throw fail("\(kind) needs \"device\" and \"region\"") }
            return try marker(kind, ["region", "offset", "length"])
        case "irq.signal":
            guard !device.isEmpty, Self.uint(o["index"]) != nil else { throw fail("irq.signal needs \"device\" and \"index\"") }
            return try marker(kind, ["index", "vector"])
        case "marker":
            guard let name = o["name"] as? String else { throw fail("marker needs \"name\"") }
            return try marker(name, [])
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
            throw fail("unknown kind \"\(kind)\" (trap.on, trap.off, irq.signal, marker, device_state)")
        }
    }
}
