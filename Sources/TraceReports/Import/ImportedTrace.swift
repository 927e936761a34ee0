import Foundation
import TraceFormat

/// An importer's output, written while the log is read so memory stays flat in the input's size.
///
/// The header (clock pair, pids) is known only at the end (a JSON Lines clock line may come late, pids
/// turn up as lines do), so events go first to a spill trace next to the output, and `finish()` copies
/// them, one chunk at a time, behind the final header. Time-ordered imports pass through a reorder window
/// of `reorderWindow` events: lines at most that many events out of time order are written in order; a
/// later one cannot be placed any more and is refused (the importer reports its line).
final class ImportedTrace {
    /// Events held back to put slightly out-of-order lines (threads logging concurrently) in time order.
    static let reorderWindow = 1 << 15
    /// Pids listed in the header at most (every event keeps its own pid regardless).
    static let maxPids = 1 << 16

    let output: String
    let format: String
    let input: String
    /// The clock pair the header gets (an importer may learn it from the log).
    var clock: ClockSample
    private let ordered: Bool
    private let spillPath: String
    private var spill: TraceWriter?
    /// The reorder window: a binary min-heap on (time, arrival).
    private var window: [(event: TraceEvent, arrival: UInt64)] = []
    private var arrivals: UInt64 = 0
    private var lastWritten: UInt64?
    private var pids: Set<Int32> = []

    init(output: String, format: String, input: String, clock: ClockSample, ordered: Bool) throws {
        self.output = output
        self.format = format
        self.input = input
        self.clock = clock
        self.ordered = ordered
        spillPath = output + ".import-\(UUID().uuidString).partial"
        var options = TraceWriter.Options()
        options.compressionLevel = 1
        options.maxChunkAgeNs = .max  // chunks by size only: nobody reads the spill while it is written
        do {
            spill = try TraceWriter(path: spillPath, header: TraceHeader(source: "import-\(format)"), options: options)
        } catch {
            // Said of the output: the spill file is an implementation detail beside it.
            throw TraceError(error.code, "cannot write the output: \(error.message)", path: output)
        }
    }

    deinit {
        try? spill?.close()
        unlink(spillPath)
    }

    /// Lists `pid` in the header.
    func note(pid: Int32) {
        if pids.count < Self.maxPids { pids.insert(pid) }
    }

    /// Adds `event`; false (nothing written) when the import is time-ordered and events later than it have
    /// already left the reorder window.
    func add(_ event: TraceEvent) throws -> Bool {
        guard let spill else { return false }
        note(pid: event.pid)
        guard ordered else {
            try spill.append(event)
            return true
        }
        if let lastWritten, event.time < lastWritten { return false }
        push((event, arrivals))
        arrivals += 1
        if window.count > Self.reorderWindow { try write(pop()) }
        return true
    }

    /// Writes the output: header with the clock pair and pids, then every event; returns how many.
    func finish() throws -> Int {
        guard let spill else { return 0 }
        while !window.isEmpty { try write(pop()) }
        try spill.close(closeClock: clock)
        self.spill = nil
        var header = TraceHeader.forThisHost(source: "import-\(format)", command: ["import", format, input])
        header.startClock = clock
        header.pids = pids.sorted()
        let writer = try TraceWriter(path: output, header: header)
        let reader = try TraceReader(path: spillPath)
        // nextChunk's visitor cannot throw: the first write error stops the copy after that chunk.
        var failure: (any Error)?
        func copy(_ e: TraceEvent) {
            guard failure == nil else { return }
            do { try writer.append(e) } catch { failure = error }
        }
        while failure == nil, try reader.nextChunk(visit: copy) != nil {}
        if let failure { throw failure }
        try writer.close(closeClock: clock)
        unlink(spillPath)
        return Int(writer.eventsWritten)
    }

    /// Why `add` refused an event at `time`.
    static func outOfOrder(_ time: UInt64) -> String {
        "time \(LogTimestamp.text(time)) s is earlier than events already written: the log is out of time order by more than "
            + "\(reorderWindow) events (sort it by time first)"
    }

    private func write(_ event: TraceEvent) throws {
        lastWritten = max(lastWritten ?? 0, event.time)
        try spill?.append(event)
    }

    private static func before(_ a: (event: TraceEvent, arrival: UInt64), _ b: (event: TraceEvent, arrival: UInt64)) -> Bool {
        (a.event.time, a.arrival) < (b.event.time, b.arrival)
    }

    private func push(_ item: (event: TraceEvent, arrival: UInt64)) {
        window.append(item)
        var i = window.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(window[i], window[parent]) else { break }
            window.swapAt(i, parent)
            i = parent
        }
    }

    private func pop() -> TraceEvent {
        let top = window[0].event
        let last = window.removeLast()
        if !window.isEmpty {
            window[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < window.count, Self.before(window[l], window[smallest]) { smallest = l }
                if r < window.count, Self.before(window[r], window[smallest]) { smallest = r }
                if smallest == i { break }
                window.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }
}

/// Why a line was refused, before the importer adds the line number.
struct LineRejection: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Decimal timestamps of log lines as 64-bit ns, refusing what does not fit rather than trapping.
enum LogTimestamp {
    /// Whether `s` is one or more ASCII digits.
    static func isDigits(_ s: Substring) -> Bool { !s.isEmpty && s.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }

    /// `seconds` s + `nanoseconds` ns; `text` is the timestamp as written, for the diagnostic.
    static func combine(seconds: UInt64, nanoseconds: UInt64, text: Substring) throws(LineRejection) -> UInt64 {
        let (whole, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, o2) = whole.addingReportingOverflow(nanoseconds)
        guard !o1, !o2 else { throw tooLarge(text) }
        return sum
    }

    /// "SECONDS.FRACTION" (digits, 1 to 9 fraction digits) in ns.
    static func nanoseconds(_ text: Substring) throws(LineRejection) -> UInt64 {
        guard let dot = text.firstIndex(of: ".") else { throw LineRejection("timestamp \(quoted(text)) is not SECONDS.FRACTION") }
        let sec = text[..<dot], frac = text[text.index(after: dot)...]
        guard isDigits(sec), isDigits(frac) else { throw LineRejection("timestamp \(quoted(text)) is not SECONDS.FRACTION") }
        guard frac.utf8.count <= 9 else { throw LineRejection("timestamp \(quoted(text)) has more than 9 fraction digits") }
        guard let s = UInt64(sec), var ns = UInt64(frac) else { throw tooLarge(text) }
        for _ in frac.utf8.count..<9 { ns *= 10 }
        return try combine(seconds: s, nanoseconds: ns, text: text)
    }

    static func tooLarge(_ text: Substring) -> LineRejection {
        LineRejection("timestamp \(quoted(text)) is too large (at most 18446744073.709551615 s fits in 64-bit ns)")
    }

    /// `ns` as "SECONDS.NANOSECONDS".
    static func text(_ ns: UInt64) -> String {
        let frac = String(ns % 1_000_000_000)
        return "\(ns / 1_000_000_000)." + String(repeating: "0", count: 9 - frac.count) + frac
    }

    /// Input text for a diagnostic: escaped for terminals and cut at 80 characters.
    static func quoted(_ text: some StringProtocol) -> String {
        let s = String(text)
        let cut = s.count > 80 ? String(s.prefix(80)) + "…" : s
        return TerminalText.escaped(cut)
    }
}
