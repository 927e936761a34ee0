import ArgumentParser
import Foundation
import TraceAnalysis
import TraceFormat

/// `vfiotrace simulate`: a synthetic trace and the ground truth of the gaps and latencies it planted.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write a synthetic migration trace plus FILE.truth.json with the gaps and latencies it planted.",
        discussion: """
            Scenarios:
              safe            memslot and BAR dropped before the saving state: no gap
              racy            state change, signal, the VMM reacts late: one gap
              lost-signal     signal before the eventfd is bound: the gap never closes
              slow-userspace  signal read, but no re-read nor unmap: an open gap
              v1              racy, with migration v1 (device_state bits)
              v2              racy, with v2 P2P states and a rejected arc
              many-devices    four devices migrating at once, racy, interleaved
              long            --events events of traffic with migrations (for scale)
            Example:
              vfiotrace simulate --scenario racy --seed 1 -o racy.vftrace

            Exit status: 0 written; 2 unknown scenario, usage error, or the files cannot be written.
            """)

    @Option(help: "Scenario name (listed above).") var scenario: String
    @Option(help: "Random seed (the same seed writes the same trace).") var seed: UInt64 = 1
    @Option(help: "Number of events: the length of `long`, or background noise added to the others.") var events: UInt64?
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String

    func run() throws {
        guard let s = Scenario(rawValue: scenario) else {
            throw CommandFailure("unknown scenario '\(scenario)'; scenarios: " + Scenario.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let progress = ProgressLine()
        let truth = try ScenarioSimulator.run(s, seed: seed, events: events, output: output) { n in
            progress.show("simulating: \(n) events")
        }
        progress.clear()
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let truthPath = output + ".truth.json"
        guard FileManager.default.createFile(atPath: truthPath, contents: try enc.encode(truth)) else {
            throw CommandFailure("cannot write \(truthPath)")
        }
        FileHandleStream.standardOutput.write(
            "\(output): \(truth.events) events, \(truth.summary.gapCount) planted gaps, \(truth.summary.triggerCount) triggers; truth in \(truthPath)\n"
        )
    }
}
