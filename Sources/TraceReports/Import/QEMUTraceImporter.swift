import Foundation
import TraceFormat

/// Imports QEMU's `log` trace backend output (`-trace 'vfio_*'`, with `-msg timestamp=on` for the
/// `PID@SECONDS.MICROS:` prefix) into a trace. Under TCG, QEMU switches a BAR between mmap and trapped
/// access without a syscall, so this log is the only place that switch is visible.
///
/// The times are wall-clock (gettimeofday): the trace gets the identity clock pair (0, 0), so
/// `vfiotrace merge` maps them onto a recording's CLOCK_MONOTONIC through that recording's pair.
public struct QEMUTraceImporter {
    public var strict = false
    public var warn: (ImportProblem) -> Void = { _ in }

    public init() {}

    /// One parsed line: pid, wall-clock ns, event name, argument text.
    struct Line: Equatable {
        var pid: Int32
        var timeNs: UInt64
        var event: String
        var args: String
    }

    static let notALine = LineRejection("not a QEMU trace line (expected PID@SECONDS.MICROS:event args; run QEMU with -msg timestamp=on)")

    /// Parses `[ISO-time ]PID@SEC.USEC:event args`; nil when the line is not a trace line.
    static func parse(_ text: Substring) -> Line? { try? parseLine(text) }

    /// `parse`, saying why a line is refused (not a trace line, or a timestamp out of range).
    static func parseLine(_ text: Substring) throws(LineRejection) -> Line {
        var s = text
        // -msg timestamp=on may also prefix an ISO 8601 time: skip a first token that contains 'T' and ends in 'Z'.
        if let space = s.firstIndex(of: " "), s[..<space].hasSuffix("Z"), s[..<space].contains("T"), !s[..<space].contains("@") {
            s = s[s.index(after: space)...]
        }
        guard let at = s.firstIndex(of: "@"), let pid = Int32(s[..<at]) else { throw notALine }
        let rest = s[s.index(after: at)...]
        guard let colon = rest.firstIndex(of: ":") else { throw notALine }
        let stamp = rest[..<colon]
        guard let dot = stamp.firstIndex(of: "."), LogTimestamp.isDigits(stamp[..<dot]), let usec = UInt64(stamp[stamp.index(after: dot)...]),
            usec < 1_000_000
        else { throw notALine }
        guard let sec = UInt64(stamp[..<dot]) else { throw LogTimestamp.tooLarge(stamp) }
        let timeNs = try LogTimestamp.combine(seconds: sec, nanoseconds: usec * 1000, text: stamp)
        let body = rest[rest.index(after: colon)...]
        let event = body.prefix { $0 != " " && $0 != "(" }
        guard !event.isEmpty, event.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { throw notALine }
        let args = body.dropFirst(event.count).trimmingCharacters(in: .whitespaces)
        return Line(pid: pid, timeNs: timeNs, event: String(event), args: args)
    }

    /// "0000:00:05.0 BAR 2 mmaps[0]" -> ("0000:00:05.0", 2).
    static func regionName(_ name: String) -> (device: String, region: Int)? {
        let parts = name.split(separator: " ")
        guard parts.count >= 3, parts[1] == "BAR", let n = Int(parts[2]) else { return nil }
        return (String(parts[0]), n)
    }

    /// "0x1f" -> 31; nil unless `0x` and 1 to 16 hex digits.
    static func hex(_ s: String) -> UInt64? {
        guard s.hasPrefix("0x") else { return nil }
        return UInt64(s.dropFirst(2), radix: 16)
    }

    /// The events a line stands for; refused when its numbers contradict each other.
    static func events(for l: Line) throws(LineRejection) -> [TraceEvent] {
        func marker(_ name: String, device: String = "", _ fields: [Marker.Field]) -> TraceEvent {
            TraceEvent(
                time: l.timeNs, pid: l.pid, tid: l.pid, payload: .marker(Marker(source: "qemu-trace", name: name, device: device, fields: fields)))
        }
        let a = l.args
        switch l.event {
        case "vfio_region_mmaps_set_enabled":
            // "Region %s mmaps enabled: %d"
            let nameStart = a.index(a.startIndex, offsetBy: 7, limitedBy: a.endIndex) ?? a.endIndex
            guard a.hasPrefix("Region "), let colon = a.range(of: " mmaps enabled:", options: .backwards, range: nameStart..<a.endIndex)
            else { break }
            let name = String(a[nameStart..<colon.lowerBound])
            let enabled = a[colon.upperBound...].trimmingCharacters(in: .whitespaces)
            guard let r = regionName(name) else { break }
            return [marker("mmaps.enabled", device: r.device, [.init("region", "\(r.region)"), .init("enabled", enabled), .init("name", name)])]
        case "vfio_region_mmap", "vfio_region_unmap":
            // "Region %s [0x%lx - 0x%lx]"
            guard let open = a.lastIndex(of: "[") else { break }
            let name = a.hasPrefix("Region ") ? String(a[a.index(a.startIndex, offsetBy: 7)..<open]).trimmingCharacters(in: .whitespaces) : ""
            let range = a[a.index(after: open)...].trimmingCharacters(in: CharacterSet(charactersIn: "] "))
            let bounds = range.components(separatedBy: " - ")
            let r = regionName(name)
            var fields: [Marker.Field] = [.init("name", name)]
            if let r { fields.append(.init("region", "\(r.region)")) }
            if bounds.count == 2 {
                guard let start = hex(bounds[0]), let end = hex(bounds[1]) else {
                    throw LineRejection("region bounds [\(LogTimestamp.quoted(range))] are not two 64-bit hex numbers")
                }
                guard start <= end else { throw LineRejection("region start \(bounds[0]) is above its end \(bounds[1])") }
                fields += [.init("start", bounds[0]), .init("end", bounds[1])]
            }
            return [marker(l.event, device: r?.device ?? "", fields)]
        case "vfio_intx_interrupt":
            // " (%s) Pin %c"
            guard let dev = parenthesized(a) else { break }
            let pin = a.components(separatedBy: "Pin ").last ?? ""
            return [marker("irq.handled", device: dev, [.init("index", "0"), .init("pin", pin)])]
        case "vfio_msi_interrupt":
            // " (%s) vector %d 0x%"PRIx64"/0x%x"
            guard let dev = parenthesized(a) else { break }
            let vector = a.components(separatedBy: "vector ").last?.split(separator: " ").first.map(String.init) ?? ""
            return [marker("irq.handled", device: dev, [.init("index", "1"), .init("vector", vector)])]
        case "vfio_migration_set_state", "vfio_migration_set_device_state":
            // " (%s) new state %s, recover state %s" / " (%s) state %s"
            guard let dev = parenthesized(a) else { break }
            let word = a.components(separatedBy: "state ").dropFirst().first?.split(separator: ",").first.map {
                String($0).trimmingCharacters(in: .whitespaces)
            }
            if let word, let state = v2State(word) {
                return [
                    TraceEvent(
                        time: l.timeNs, pid: l.pid, tid: l.pid,
                        payload: .deviceState(
                            DeviceStateChange(
                                fd: -1, device: dev, migrationProtocol: .v2, requested: state, resulting: state)))
                ]
            }
        default:
            break
        }
        // Other events are kept verbatim; their parentheses are not a device name in general.
        return [marker(l.event, [.init("args", a)])]
    }

    static func parenthesized(_ s: String) -> String? {
        guard let o = s.firstIndex(of: "("), let c = s[o...].firstIndex(of: ")") else { return nil }
        return String(s[s.index(after: o)..<c])
    }

    static func v2State(_ name: String) -> UInt32? {
        let names: [String: UInt32] = [
            "ERROR": 0, "STOP": 1, "RUNNING": 2, "STOP_COPY": 3, "RESUMING": 4, "RUNNING_P2P": 5,
            "PRE_COPY": 6, "PRE_COPY_P2P": 7,
        ]
        return names[name.uppercased()]
    }

    /// The most argument text one event may gather from its continuation lines (bytes).
    static let maxEventBytes = 1 << 20

    /// Reads `source`, writes `output` as it goes; returns the number of events.
    public func run(_ source: LogSource, output: String) throws -> Int {
        let trace = try ImportedTrace(
            output: output, format: "qemu-trace", input: source.name, clock: ClockSample(monotonicNs: 0, realtimeNs: 0), ordered: true)
        // Some events print over several lines (vfio_populate_device_config: "…config:\n  size: …"): an
        // indented line continues the event before it, which is held (with its line number) until the next
        // event starts; it gathers at most `maxEventBytes`.
        var held: (line: Line, number: Int)?
        func emit(_ h: (line: Line, number: Int)) throws {
            do {
                for e in try Self.events(for: h.line) {
                    guard try trace.add(e) else { throw LineRejection(ImportedTrace.outOfOrder(e.time)) }
                }
            } catch let r as LineRejection {
                try reject(ImportProblem(path: source.name, line: h.number, message: r.message))
            }
        }
        try LogLines.scan(source) { number, bytes in
            let raw = String(decoding: bytes, as: UTF8.self)
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { return }
            if raw.first == " " || raw.first == "\t", let h = held {
                guard h.line.args.utf8.count + 1 + line.utf8.count <= Self.maxEventBytes else {
                    let message = "continuation would make the event of line \(h.number) longer than \(Self.maxEventBytes) bytes"
                    try reject(ImportProblem(path: source.name, line: number, message: message))
                    return
                }
                held?.line.args += " " + line
                return
            }
            if let h = held { try emit(h) }
            held = nil
            do {
                held = (try Self.parseLine(Substring(line)), number)
            } catch let r as LineRejection {
                try reject(ImportProblem(path: source.name, line: number, message: r.message))
            }
        } tooLong: {
            try rejectTooLong(source, line: $0)
        }
        if let h = held { try emit(h) }
        return try trace.finish()
    }
}
