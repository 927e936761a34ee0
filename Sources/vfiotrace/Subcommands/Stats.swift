import ArgumentParser
import TraceFormat

/// `vfiotrace stats FILE`: counts per kind, time span, sizes and compression.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize a trace: event counts per kind, time span, chunks, sizes.",
        discussion: """
            Example: vfiotrace stats --format json mig.vftrace
            Exit status: 0 intact trace; 1 damaged or truncated (counted as far as it is intact); 2 not a trace file \
            or usage error.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Trace file (.vftrace).") var file: String
    @Option(help: "Output format: text or json.") var format: Format = .text
    @OptionGroup var output: OutputOption

    func run() throws {
        let s = try TraceSummary.scan(path: file)
        let out = try output.stream()
        let kinds = EventKind.allCases.filter { s.perKind[Int($0.rawValue)] > 0 }
        switch format {
        case .json:
            var j = JSONText()
            j.add("file", file)
            j.add("source", s.header.source)
            j.add("recorderVersion", s.header.recorderVersion)
            j.add("kernelRelease", s.header.kernelRelease)
            j.add("architecture", s.header.architecture)
            j.add("events", s.events)
            j.add("chunks", s.chunks)
            j.add("fileBytes", s.fileBytes)
            j.add("rawBytes", s.rawBytes)
            j.add("compressedBytes", s.compressedBytes)
            j.addRaw("bytesPerEvent", format3(s.bytesPerEvent))
            j.addRaw("compressionRatio", format3(s.compressionRatio))
            j.addRaw("firstNs", s.firstNs.map { "\($0)" } ?? "null")
            j.addRaw("lastNs", s.lastNs.map { "\($0)" } ?? "null")
            j.add("spanNs", s.spanNs)
            j.add("lostEvents", s.lostEvents)
            j.addRaw("kinds", "{" + kinds.map { "\"\($0.name)\":\(s.perKind[Int($0.rawValue)])" }.joined(separator: ",") + "}")
            j.add("intact", s.isIntact)
            j.addRaw("damage", "[" + s.damage.map { JSONText.quote($0.description) }.joined(separator: ",") + "]")
            out.write(j.result + "\n")
        case .text:
            // Header strings come from the file: escaped like everything printed from a trace.
            let h = s.header
            out.write(
                TerminalText.escaped("file        \(file) (\(h.source), vfiotrace \(h.recorderVersion), \(h.kernelRelease) \(h.architecture))") + "\n"
            )
            if !h.command.isEmpty { out.write("command     \(h.command.map(TerminalText.escaped).joined(separator: " "))\n") }
            if !s.header.pids.isEmpty { out.write("pids        \(s.header.pids.map(String.init).joined(separator: " "))\n") }
            out.write("events      \(s.events)\n")
            out.write("time span   \(DurationText.human(s.spanNs))\n")
            out.write("chunks      \(s.chunks)\n")
            out.write("file bytes  \(s.fileBytes)  (\(format3(s.bytesPerEvent)) bytes/event, compression \(format3(s.compressionRatio))x)\n")
            if s.lostEvents > 0 { out.write("lost        \(s.lostEvents) events dropped by the recorder\n") }
            out.write("per kind:\n")
            for k in kinds {
                let n = "\(s.perKind[Int(k.rawValue)])"
                out.write(
                    "  " + k.name + String(repeating: " ", count: max(1, 16 - k.name.count)) + String(repeating: " ", count: max(0, 12 - n.count)) + n
                        + "\n")
            }
            out.write("integrity   " + (s.isIntact ? "intact" : "DAMAGED (\(s.damage.count) problems; run `vfiotrace verify`)") + "\n")
        }
        try out.finish()
        if !s.damage.isEmpty { terminate(1) }
    }

    private func format3(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return "\(r)"
    }
}
