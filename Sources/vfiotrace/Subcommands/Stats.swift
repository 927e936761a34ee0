import ArgumentParser
import Foundation
import TraceFormat

/// `vfiotrace stats FILE`: counts per kind, time span, sizes and compression.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
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
            // The style of analyze --format json: one pretty document, keys sorted, exact integers.
            struct Summary: Encodable {
                var file, source, recorderVersion, kernelRelease, architecture: String
                var events: UInt64, chunks: Int, fileBytes, rawBytes, compressedBytes: UInt64
                var bytesPerEvent, compressionRatio: Double
                var firstNs, lastNs: UInt64?
                var spanNs, lostEvents: UInt64
                var kinds: [String: UInt64]
                var intact: Bool
                var damage: [String]
            }
            let h = s.header
            let summary = Summary(
                file: file, source: h.source, recorderVersion: h.recorderVersion, kernelRelease: h.kernelRelease,
                architecture: h.architecture, events: s.events, chunks: s.chunks, fileBytes: s.fileBytes, rawBytes: s.rawBytes,
                compressedBytes: s.compressedBytes, bytesPerEvent: rounded3(s.bytesPerEvent), compressionRatio: rounded3(s.compressionRatio),
                firstNs: s.firstNs, lastNs: s.lastNs, spanNs: s.spanNs, lostEvents: s.lostEvents,
                kinds: Dictionary(uniqueKeysWithValues: kinds.map { ($0.name, s.perKind[Int($0.rawValue)]) }), intact: s.isIntact,
                damage: s.damage.map(\.description))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            out.write(String(decoding: try encoder.encode(summary), as: UTF8.self) + "\n")
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

    private func rounded3(_ v: Double) -> Double { v.isFinite ? (v * 1000).rounded() / 1000 : 0 }

    private func format3(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return "\(r)"
    }
}
