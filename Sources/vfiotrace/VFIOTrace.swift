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
        version: TraceFormat.toolVersion,
        subcommands: formatCommands + recorderCommands + analysisCommands + reportCommands
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
                printError(fullMessage(for: error))
                terminate(2)
            }
            FileHandleStream.standardOutput.flush()
            exit(withError: error)
        }
        FileHandleStream.standardOutput.flush()
    }
}

/// Writes `vfiotrace: message` to stderr, as one line whatever the message quotes from a trace or log.
func printError(_ message: String) {
    var s = TerminalText.escaped(message)
    if !s.hasPrefix("vfiotrace:") && !s.hasPrefix("Error:") && !s.hasPrefix("Usage:") { s = "vfiotrace: " + s }
    FileHandleStream.standardError.write(s + "\n")
}

/// Flushes buffered output and exits with `code`.
func terminate(_ code: Int32) -> Never {
    FileHandleStream.standardOutput.flush()
    Glibc.exit(code)
}
