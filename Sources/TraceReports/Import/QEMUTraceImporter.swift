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

    /// Parses `[ISO-time ]PID@SEC.USEC:event args`; nil when the line is not a trace line.
    static func parse(_ text: Substring) -> Line? {
        var s = text
        // -msg timestamp=on may also prefix an ISO 8601 time: skip a first token that contains 'T' and ends in 'Z'.
        if let space = s.firstIndex(of: " "), s[..<space].hasSuffix("Z"), s[..<space].contains("T"), !s[..<space].contains("@") {
            s = s[s.index(after: space)...]
        }
        guard let at = s.firstIndex(of: "@"), let pid = Int32(s[..<at]) else { return nil }
        let rest = s[s.index(after: at)...]
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let stamp = rest[..<colon]
        guard let dot = stamp.firstIndex(of: "."), let sec = UInt64(stamp[..<dot]), let usec = UInt64(stamp[stamp.index(after: dot)...]),
            usec < 1_000_000
        else { return nil }
        let body = rest[rest.index(after: colon)...]
        let event = body.prefix { $0 != " " && $0 != "(" }
        guard !event.isEmpty, event.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        let args = body.dropFirst(event.count).trimmingCharacters(in: .whitespaces)
        return Line(pid: pid, timeNs: sec * 1_000_000_000 + usec * 1000, event: String(event), args: args)
    }

    /// "0000:00:05.0 BAR 2 mmaps[0]" -> ("0000:00:05.0", 2).
    static func regionName(_ name: String) -> (device: String, region: Int)? {
        let parts = name.split(separator: " ")
        guard parts.count >= 3, parts[1] == "BAR", let n = Int(parts[2]) else { return nil }
        return (String(parts[0]), n)
    }

    /// The events a line stands for.
    static func events(for l: Line) -> [TraceEvent] {
        func marker(_ name: String, device: String = "", _ fields: [Marker.Field]) -> TraceEvent {
            TraceEvent(
                time: l.timeNs, pid: l.pid, tid: l.pid, payload: .marker(Marker(source: "qemu-trace", name: name, device: device, fields: fields)))
        }
        let a = l.args
        switch l.event {
        case "vfio_region_mmaps_set_enabled":
            // "Region %s mmaps enabled: %d"
            guard a.hasPrefix("Region "), let colon = a.range(of: " mmaps enabled:", options: .backwards) else { break }
            let name = String(a[a.index(a.startIndex, offsetBy: 7)..<colon.lowerBound])
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
            if bounds.count == 2 { fields += [.init("start", bounds[0]), .init("end", bounds[1])] }
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

    /// Reads `input`, writes `output`; returns the number of events.
    @discardableResult
    public func run(input: String, output: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: input) else {
            throw ImportProblem(path: input, line: 0, message: "cannot read the file")
        }
        let text = String(decoding: data, as: UTF8.self)
        var events: [TraceEvent] = []
        // Some events print over several lines (vfio_populate_device_config: "…config:\n  size: …"): an
        // indented line continues the event before it.
        var held: Line?
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if raw.first == " " || raw.first == "\t", held != nil {
                held!.args += " " + line
                continue
            }
            if let h = held { events += Self.events(for: h) }
            held = nil
            guard let parsed = Self.parse(Substring(line)) else {
                let p = ImportProblem(
                    path: input, line: i + 1,
                    message: "not a QEMU trace line (expected PID@SECONDS.MICROS:event args; run QEMU with -msg timestamp=on)")
                if strict { throw p }
                warn(p)
                continue
            }
            held = parsed
        }
        if let h = held { events += Self.events(for: h) }
        events.sort { $0.time < $1.time }
        return try Self.writeTrace(
            events, to: output, format: "qemu-trace", input: input, clock: ClockSample(monotonicNs: 0, realtimeNs: 0),
            pids: Array(Set(events.map(\.pid))).sorted())
    }
}
