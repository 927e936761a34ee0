import ArgumentParser
import Foundation
import TraceAnalysis
import TraceFormat
import TraceRecorder
import TraceReports

/// `vfiotrace demo`: records the bundled test VMM running the racy and the safe protocol, analyzes both, compares.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Record the bundled test VMM (racy and safe migration protocols), analyze both traces and compare them.",
        discussion: """
            The test VMM (Fixtures/TestVMM) drives an emulated migration-capable VFIO device through seccomp user
            notification, with real mmaps, eventfds and KVM memslots (when /dev/kvm works). vfiotrace attaches to it
            with ptrace exactly as it would to a production VMM.
            Example: vfiotrace demo --delay 5ms    (a slower VMM: a longer gap)
            Exit status: 0 the demo ran (the racy run's gap is what it shows, not a failure); 1 the test VMM did not \
            start or failed; 2 the test VMM was not found or usage error.
            """)

    @Option(help: "Directory for the traces (default: a new temporary directory).") var outputDir: String?
    @Option(
        parsing: .unconditional,
        help: "How long the racy VMM waits after the signal before re-reading the layout. Duration: \(DurationArgument.rule).",
        transform: DurationArgument.transform)
    var delay: DurationArgument = DurationArgument(nanoseconds: 2_000_000)

    func run() throws {
        let exe = URL(fileURLWithPath: ProcFS.readlink("/proc/self/exe") ?? CommandLine.arguments[0])
        let vmm = exe.deletingLastPathComponent().appendingPathComponent("vfio-testvmm").path
        guard FileManager.default.isExecutableFile(atPath: vmm) else {
            throw CommandFailure("demo: the test VMM was not found next to vfiotrace (\(vmm)); build it with `swift build -c release`")
        }
        let dir = outputDir ?? NSTemporaryDirectory() + "vfiotrace-demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = FileHandleStream.standardOutput
        var results: [(String, AnalysisResult)] = []
        for scenario in ["racy", "safe"] {
            let trace = dir + "/\(scenario).vftrace"
            out.write("== recording the test VMM, \(scenario) protocol -> \(trace)\n")
            out.flush()
            let summary = try record(vmm: vmm, scenario: scenario, trace: trace, log: dir + "/\(scenario).vmm.jsonl")
            out.write("   \(summary.events) events, \(summary.bytes) bytes, \(summary.lost) lost\n")
            let result = try TraceAnalyzer.analyze(paths: [trace])
            results.append((scenario, result))
            out.write(
                AnalysisText.render(result).split(separator: "\n", omittingEmptySubsequences: false).map { "   " + $0 }.joined(separator: "\n") + "\n"
            )
        }
        out.write("== comparison\n")
        out.write("   protocol  verdict  gaps  longest gap   remap p50    wake-up p50  lead time p50\n")
        for (name, r) in results {
            let longest = r.gaps.map(\.durationNs).max() ?? 0
            func col(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(1, w - s.count)) }
            let lead = r.remapLatency.leadTime.count > 0 ? AnalysisText.duration(r.remapLatency.leadTime.p50Ns) : "-"
            out.write(
                "   " + col(name, 10) + col(r.verdict.uppercased(), 9) + col("\(r.gaps.count)", 6)
                    + col(longest > 0 ? AnalysisText.duration(longest) : "-", 14)
                    + col(r.remapLatency.count > 0 ? AnalysisText.duration(r.remapLatency.p50Ns) : "-", 13)
                    + col(r.remapLatency.phases["wakeup"].map { $0.count > 0 ? AnalysisText.duration($0.p50Ns) : "-" } ?? "-", 13) + lead + "\n")
        }
        out.write(
            """

               racy: the device needed traps from the moment PRE_COPY completed, but the guest could reach BAR0
                     until the VMM woke up, re-read the sparse-mmap layout and deleted the memslot: a trap gap.
               safe: the VMM deleted the memslot and unmapped BAR0 before entering PRE_COPY: lead time, no gap.
               Traces and the VMM's own logs are in \(dir); try `vfiotrace dump \(dir)/racy.vftrace`.

            """)
    }

    /// Starts the test VMM paused, attaches the recorder, lets the VMM run, records until it exits.
    private func record(vmm: String, scenario: String, trace: String, log: String) throws -> RecordSummary {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: vmm)
        p.arguments = ["--scenario", scenario, "--wait-signal", "--log", log, "--delay-us", "\(delay.nanoseconds / 1000)"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        guard line.hasPrefix("ready "), let pid = Int32(line.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            p.terminate()
            throw CommandFailure("demo: the test VMM did not start (said: \(line.isEmpty ? "nothing" : line))", exitCode: 1)
        }
        var options = RecordOptions(output: trace)
        options.pids = [pid]
        options.durationNs = 20_000_000_000
        options.onReady = { _ = kill(pid, SIGUSR1) }
        let summary = try Recorder.record(options)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CommandFailure("demo: the test VMM failed (exit status \(p.terminationStatus)); see \(log)", exitCode: 1)
        }
        return summary
    }
}
