import ArgumentParser
import TraceFormat

/// `vfiotrace verify FILE`: checks every chunk; says where a file was cut or damaged.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a trace file's integrity.",
        discussion: """
            Example: vfiotrace verify mig.vftrace
            Exit status: 0 intact, 1 damaged or truncated (the message names the chunk and byte offset), 2 not a trace file or usage error.
            """)

    @Argument(help: "Trace file (.vftrace).") var file: String

    func run() throws {
        let s = try TraceSummary.scan(path: file)
        let out = FileHandleStream.standardOutput
        if s.isIntact {
            out.write("\(file): OK: \(s.events) events in \(s.chunks) chunks, \(s.fileBytes) bytes, footer index present\n")
            return
        }
        out.write("\(file): DAMAGED: \(s.events) events readable in \(s.chunks) intact chunks\n")
        for d in s.damage { out.write("  " + d.description + "\n") }
        terminate(1)
    }
}
