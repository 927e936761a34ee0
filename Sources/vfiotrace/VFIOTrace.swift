import ArgumentParser
import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// The `vfiotrace` command: argument parsing only; the work happens in the libraries.
@main
struct VFIOTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfiotrace",
        abstract: "Record, analyze and report VFIO device live-migration traces: trap gaps and remap latency.",
        discussion: """
            The work in order: record a VMM (or simulate a trace), analyze it, report it for people and CI; \
            import and merge logs from QEMU, the kernel and drivers onto one timeline; dump, verify and stats \
            to look inside a trace. `vfiotrace help COMMAND` describes each, with examples and exit codes.
            Shell completion: vfiotrace --generate-completion-script bash|zsh|fish
            """,
        version: TraceFormat.toolVersion,
        // In the order of the work.
        subcommands: [
            Record.self, Analyze.self, Report.self, Compare.self, Import.self, Merge.self, Dump.self, Verify.self, Stats.self, Simulate.self,
            Demo.self,
        ]
    )

    /// Exit codes shared by all subcommands: 0 success, 1 findings / damage, 2 unreadable input or usage error.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as TraceError {
            printError(error.description)
            let unreadable: Set<TraceError.Code> = [.notATrace, .unsupportedVersion, .io, .corruptHeader]
            terminate(unreadable.contains(error.code) ? 2 : 1)
        } catch let error as CommandFailure {
            printError(error.message)
            terminate(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                // The parser's own message and usage: several lines, each escaped (the user's argv is quoted in them).
                printError(fullMessage(for: error), lines: true)
                terminate(2)
            }
            FileHandleStream.standardOutput.flush()
            exit(withError: error)
        }
        FileHandleStream.standardOutput.flush()
    }
}

/// Writes `vfiotrace: message` to stderr, as one line whatever the message quotes from a trace or log
/// (`lines`: a message of several lines of our own, each escaped).
func printError(_ message: String, lines: Bool = false) {
    var s =
        lines
        ? message.split(separator: "\n", omittingEmptySubsequences: false).map { TerminalText.escaped(String($0)) }.joined(separator: "\n")
        : TerminalText.escaped(message)
    if !s.hasPrefix("vfiotrace:") && !s.hasPrefix("Error:") && !s.hasPrefix("Usage:") { s = "vfiotrace: " + s }
    FileHandleStream.standardError.write(s + "\n")
}

/// Flushes buffered output and exits with `code`.
func terminate(_ code: Int32) -> Never {
    FileHandleStream.standardOutput.flush()
    Glibc.exit(code)
}
