import ArgumentParser

/// `-o FILE` for every command that writes text: the file instead of standard output.
struct OutputOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    /// Where to write: the file, or standard output.
    func stream() throws -> FileHandleStream { try output.map(FileHandleStream.file) ?? FileHandleStream.standardOutput }
}
