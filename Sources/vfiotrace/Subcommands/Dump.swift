import ArgumentParser
import TraceFormat

/// `vfiotrace dump FILE`: one line per event, strace-like, or JSON Lines.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print every event of a trace, one per line.",
        discussion: """
            Strings from the trace are escaped as strace escapes them (\\n, \\x1b), so a device name cannot forge a line.
            Example: vfiotrace dump --kind mapping --kind memslot mig.vftrace
            Exit status: 0 every event printed; 1 damaged or truncated trace (damaged chunks skipped with a warning \
            on stderr, every intact chunk printed); 2 not a trace file or usage error.
            """)

    /// `json` is `jsonl` (one object a line), for the same word as analyze's and stats' --format.
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, jsonl, json }

    @Argument(help: "Trace file (.vftrace).") var file: String
    @Option(help: "Output format: text (strace-like) or jsonl.") var format: Format = .text
    @Option(name: .customLong("kind"), help: "Only events of these kinds (repeatable), e.g. --kind mapping --kind memslot.")
    var kinds: [String] = []
    @OptionGroup var output: OutputOption

    func run() throws {
        let wanted = try Set(
            kinds.map { name -> EventKind in
                guard let k = EventKind.allCases.first(where: { $0.name == name }) else {
                    throw CommandFailure("unknown event kind '\(name)'; kinds: " + EventKind.allCases.map(\.name).joined(separator: ", "))
                }
                return k
            })
        let reader = try TraceReader(path: file, prefetch: true)
        let out = try output.stream()
        // Streamed: each event formatted where it lies in the decompressed chunk (no TraceEvent built), as bytes into
        // one reused buffer, whatever a chunk holds; a chunk's strings are escaped once, not once per event.
        var formatter = EventViewFormatter(format == .text ? .text : .json)  // json and jsonl: one object a line
        var lines = TextBuffer(capacity: 1 << 16 + 4096)
        let progress = ProgressLine(streamsToStdout: output.output == nil)
        // Kinds wanted, by raw value (all when none were named).
        var keep = InlineArray<16, Bool>(repeating: wanted.isEmpty)
        for k in wanted { keep[Int(k.rawValue)] = true }
        var chunks = 0
        while try reader.nextChunk(batches: { batch in
            formatter.writeLines(batch, keeping: { keep[Int($0.rawValue)] }, into: &lines, flushAt: 1 << 16) { full in
                out.write(bytes: full.bytes)
                full.removeAll()
            }
        }) != nil {
            chunks += 1
            if chunks % 16 == 0, reader.fileSize > 0 {
                progress.show("dumping", file, fraction: Double(reader.compressedBytes) / Double(reader.fileSize))
            }
        }
        progress.clear()
        out.write(bytes: lines.bytes)
        try out.finish()
        for d in reader.damage { printError("warning: \(d)") }
        if !reader.damage.isEmpty { terminate(1) }
    }
}
