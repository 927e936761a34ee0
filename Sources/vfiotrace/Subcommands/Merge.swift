import ArgumentParser
import TraceFormat
import TraceReports

/// `vfiotrace merge A B … -o FILE`: several sources on one timeline.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge traces from several sources onto the first file's clock (aligned through each file's monotonic/realtime pair).")

    @Argument(help: "Trace files; the first one's CLOCK_MONOTONIC is the merged timebase.") var inputs: [String]
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String

    func validate() throws {
        guard inputs.count >= 2 else { throw ValidationError("merge needs at least two traces") }
    }

    func run() throws {
        let n = try TraceMerger.merge(inputs: inputs, output: output)
        printError("merged \(n) events from \(inputs.count) traces into \(output)")
    }
}
