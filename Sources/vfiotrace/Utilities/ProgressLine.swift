import TraceFormat

/// Progress of long work, the one mechanism every subcommand uses: a single line on stderr rewritten in
/// place, shown only when stderr is a terminal (and stdout is not the same terminal, for commands that print
/// their results as they go), cleared when the work ends. Silent in pipes, files and CI logs.
final class ProgressLine: @unchecked Sendable {  // the recorder calls `show` from its writer thread only
    private let err = FileHandleStream.standardError
    let enabled: Bool
    private var shown = false

    /// `streamsToStdout`: the command writes its results while it works (dump), so a terminal stdout hides it.
    init(streamsToStdout: Bool = false) {
        enabled = err.isTerminal && !(streamsToStdout && FileHandleStream.standardOutput.isTerminal)
    }

    /// Replaces the line with `text` (escaped: it may quote a path).
    func show(_ text: String) {
        guard enabled else { return }
        err.write("\r\u{1B}[K" + TerminalText.escaped(text))
        shown = true
    }

    /// "WHAT PATH: NN%".
    func show(_ what: String, _ path: String, fraction: Double) {
        show("\(what) \(path): \(Int((min(max(fraction, 0), 1) * 100).rounded(.down)))%")
    }

    func clear() {
        guard shown else { return }
        err.write("\r\u{1B}[K")
        shown = false
    }
}
