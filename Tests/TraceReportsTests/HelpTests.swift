import Foundation
import TestSupport
import Testing

/// Every subcommand's help, pinned: what users read (examples, duration rules, exit codes) changes only on
/// purpose. Re-record with VFIOTRACE_RECORD_GOLDEN=1 after reading the diff.
@Suite struct HelpTests {
    static let commands = [
        "record", "analyze", "report", "compare", "import strace", "import qemu-trace", "import jsonl", "import ftrace", "merge", "dump",
        "verify", "stats", "simulate", "demo",
    ]

    @Test("vfiotrace help COMMAND matches its golden file, with an example and the exit codes", arguments: commands)
    func help(command: String) throws {
        // The help is wrapped to the terminal's width: pinned at 80 columns.
        let out = try ChildProcess.run(
            BuildProducts.path("vfiotrace"), ["help"] + command.split(separator: " ").map(String.init), environment: ["COLUMNS": "80"])
        #expect(out.status == 0)
        let text = out.stdout
        #expect(text.contains("Example"), "no example in the help of \(command)")
        #expect(text.contains("Exit status") || text.contains("Exit codes"), "no exit codes in the help of \(command)")
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Golden/help/\(command.replacingOccurrences(of: " ", with: "-")).txt")
        if ProcessInfo.processInfo.environment["VFIOTRACE_RECORD_GOLDEN"] == "1" {
            try text.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(text == (try String(contentsOf: golden, encoding: .utf8)))
    }
}
