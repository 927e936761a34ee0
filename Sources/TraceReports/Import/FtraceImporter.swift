import Foundation
public import TraceFormat

/// Imports the kernel's ftrace text output (`/sys/kernel/tracing/trace` or `trace_pipe`) into a trace, so
/// the moment the *kernel* signalled a device interrupt lines up with the VMM's reaction.
///
/// `irq_handler_entry` lines of vfio-pci's handlers name the device and the interrupt:
/// `vfio-intx(BDF)` (INTx, index 0), `vfio-msi[V](BDF)` (MSI, index 1), `vfio-msix[V](BDF)` (MSI-X,
/// index 2); they become `irq.signal` markers. Every other event or function-tracer line is kept as a
/// marker named after the event or function. Times must come from `trace_clock` `mono` (CLOCK_MONOTONIC):
/// the trace takes the clock pair of a recording made on the same host, so `merge` puts both on one timeline.
public struct FtraceImporter {
    public var strict = false
    public var warn: (ImportProblem) -> Void = { _ in }
    /// The (monotonic, realtime) pair of the host the ftrace log comes from (from a recording made there).
    public var clock: ClockSample

    public init(clock: ClockSample) { self.clock = clock }

    /// One parsed line.
    struct Line: Equatable {
        var task: String
        var pid: Int32
        var timeNs: UInt64
        /// Tracepoint name, or the traced function.
        var event: String
        var args: String
    }

    static let notALine = LineRejection("not an ftrace line (expected TASK-PID [CPU] FLAGS SECONDS: EVENT ARGS)")

    /// Parses `TASK-PID [CPU] [FLAGS] SECONDS.FRACTION: EVENT: ARGS` or `…: FUNCTION <-CALLER`; nil otherwise.
    static func parse(_ text: Substring) -> Line? { try? parseLine(text) }

    /// `parse`, saying why a line is refused (not an ftrace line, or a timestamp out of range).
    static func parseLine(_ text: Substring) throws(LineRejection) -> Line {
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]"),
            text[text.index(after: open)..<close].allSatisfy(\.isNumber)
        else { throw notALine }
        let taskPid = text[..<open].trimmingCharacters(in: .whitespaces)
        guard let dash = taskPid.lastIndex(of: "-"), let pid = Int32(taskPid[taskPid.index(after: dash)...]) else { throw notALine }
        // After the CPU: optional flags, then the timestamp ending in ':'.
        var rest = text[text.index(after: close)...].drop { $0 == " " }
        var timeNs: UInt64?
        while !rest.isEmpty {
            let token = rest.prefix { $0 != " " }
            rest = rest.dropFirst(token.count).drop { $0 == " " }
            if token.hasSuffix(":") {
                let stamp = token.dropLast()
                // Digits that do not fit are a bad timestamp; anything else is not an ftrace line.
                guard stamp.utf8.allSatisfy({ $0 == 0x2E || ($0 >= 0x30 && $0 <= 0x39) }) else { throw notALine }
                timeNs = try LogTimestamp.nanoseconds(stamp)
                break
            }
        }
        guard let timeNs else { throw notALine }
        if let colon = rest.firstIndex(of: ":"), rest[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), colon > rest.startIndex {
            return Line(
                task: String(taskPid[..<dash]), pid: pid, timeNs: timeNs, event: String(rest[..<colon]),
                args: rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let function = rest.prefix { $0 != " " }
        guard !function.isEmpty else { throw notALine }
        return Line(
            task: String(taskPid[..<dash]), pid: pid, timeNs: timeNs, event: String(function),
            args: rest.dropFirst(function.count).trimmingCharacters(in: .whitespaces))
    }

    /// The event a line stands for.
    static func event(for l: Line) -> TraceEvent {
        var marker = Marker(source: "ftrace", name: l.event, fields: [.init("task", l.task), .init("args", l.args)])
        if l.event == "irq_handler_entry", let name = l.args.split(separator: " ").first(where: { $0.hasPrefix("name=") })?.dropFirst(5),
            let h = VFIOIrqHandler.parse(String(name))
        {
            var fields: [Marker.Field] = [.init("index", "\(h.index)")]
            if let v = h.vector { fields.append(.init("vector", "\(v)")) }
            fields.append(.init("task", l.task))
            marker = Marker(source: "ftrace", name: "irq.signal", device: h.device, fields: fields)
        }
        return TraceEvent(time: l.timeNs, pid: l.pid, tid: l.pid, payload: .marker(marker))
    }

    /// Reads `source`, writes `output` as it goes; returns the number of events.
    public func run(_ source: LogSource, output: String) throws -> Int {
        let trace = try ImportedTrace(output: output, format: "ftrace", input: source.name, clock: clock, ordered: true)
        try LogLines.scan(source) { number, bytes in
            let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { return }
            do {
                let event = Self.event(for: try Self.parseLine(Substring(line)))
                guard try trace.add(event) else { throw LineRejection(ImportedTrace.outOfOrder(event.time)) }
            } catch let r as LineRejection {
                try reject(ImportProblem(path: source.name, line: number, message: r.message))
            }
        } tooLong: {
            try rejectTooLong(source, line: $0)
        }
        return try trace.finish()
    }
}
