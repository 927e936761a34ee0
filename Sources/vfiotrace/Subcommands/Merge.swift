import ArgumentParser
import TraceFormat
import TraceReports

/// `vfiotrace merge A B … -o FILE`: several sources on one timeline.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge traces from several sources onto the first file's clock (aligned through each file's monotonic/realtime pair).",
        discussion: """
            Example: vfiotrace merge qemu-run.vftrace qemu-log.vftrace kernel.vftrace -o all.vftrace
            Exit status: 0 merged; 1 merged, but an input was damaged (its damaged chunks are left out, each named on \
            stderr); 2 unreadable input, the same file given twice (or as the output), usage error, or the output \
            cannot be written.
            """)

    @Argument(help: "Trace files; the first one's CLOCK_MONOTONIC is the merged timebase.") var inputs: [String]
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String

    func validate() throws {
        guard inputs.count >= 2 else { throw ValidationError("merge needs at least two traces") }
    }

    func run() throws {
        let (n, damage) = try TraceMerger.merge(inputs: inputs, output: output)
        for d in damage { printError("warning: \(d)") }
        printError("merged \(n) events from \(inputs.count) traces into \(output)" + (damage.isEmpty ? "" : " (damaged chunks left out)"))
        if !damage.isEmpty { terminate(1) }
    }
}
