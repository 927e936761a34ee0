import ArgumentParser
import TraceFormat
import TraceReports

/// `vfiotrace import FORMAT LOG -o FILE`: other sources' logs as traces, to merge with recordings.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert another source's log into a trace (then `vfiotrace merge` it with a recording).",
        subcommands: [ImportStrace.self, ImportQEMUTrace.self, ImportJSONL.self])
}

/// `vfiotrace import jsonl`: driver-side / kernel-side events in the documented JSON Lines format.
struct ImportJSONL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jsonl",
        abstract: "Import driver-side and kernel-side events (trap on/off, signals, markers, device_state) from JSON Lines (docs/IMPORT.md).")

    @Argument(help: "The JSON Lines file.") var log: String
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String
    @Flag(help: "Reject the whole input at the first malformed line (default: skip it with a warning).") var strict = false

    func run() throws {
        var importer = JSONLImporter()
        importer.strict = strict
        var skipped = 0
        importer.warn = { problem in
            skipped += 1
            if skipped <= 20 { printError("warning: \(problem) (line skipped)") }
        }
        do {
            let n = try importer.run(input: log, output: output)
            printError("imported \(n) events into \(output)" + (skipped > 0 ? "; \(skipped) malformed lines skipped" : ""))
        } catch let p as ImportProblem {
            throw CommandFailure(p.description)
        }
    }
}

/// `vfiotrace import qemu-trace`: QEMU's log trace backend (`-trace 'vfio_*' -msg timestamp=on`).
struct ImportQEMUTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qemu-trace",
        abstract: "Import QEMU's trace log (-trace 'vfio_*' -msg timestamp=on): mmaps enabled/disabled, interrupts, migration states.")

    @Argument(help: "The QEMU trace log.") var log: String
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String
    @Flag(help: "Reject the whole input at the first malformed line (default: skip it with a warning).") var strict = false

    func run() throws {
        var importer = QEMUTraceImporter()
        importer.strict = strict
        var skipped = 0
        importer.warn = { problem in
            skipped += 1
            if skipped <= 20 { printError("warning: \(problem) (line skipped)") }
        }
        do {
            let n = try importer.run(input: log, output: output)
            printError("imported \(n) events into \(output)" + (skipped > 0 ? "; \(skipped) lines skipped" : ""))
        } catch let p as ImportProblem {
            throw CommandFailure(p.description)
        }
    }
}

/// `vfiotrace import strace`: `strace -f -ttt [-T] [-y] [-X raw]` output.
struct ImportStrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strace",
        abstract: "Import strace -f -ttt output (-T, -y and -X raw understood; unfinished/resumed pairs joined).")

    @Argument(help: "The strace log (strace -o FILE).") var log: String
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String
    @Flag(help: "Reject the whole input at the first malformed line (default: skip it with a warning).") var strict = false

    func run() throws {
        var importer = StraceImporter()
        importer.strict = strict
        var skipped = 0
        importer.warn = { problem in
            skipped += 1
            if skipped <= 20 { printError("warning: \(problem) (line skipped)") }
        }
        do {
            let n = try importer.run(input: log, output: output)
            printError("imported \(n) events into \(output)" + (skipped > 0 ? "; \(skipped) lines skipped" : ""))
        } catch let p as ImportProblem {
            throw CommandFailure(p.description)
        }
    }
}
