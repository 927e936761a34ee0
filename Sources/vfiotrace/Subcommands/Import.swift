import ArgumentParser
import TraceFormat
import TraceReports

/// `vfiotrace import FORMAT LOG -o FILE`: other sources' logs as traces, to merge with recordings.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert another source's log into a trace (then `vfiotrace merge` it with a recording).",
        discussion: ImportOptions.exitCodes,
        subcommands: [ImportStrace.self, ImportQEMUTrace.self, ImportJSONL.self, ImportFtrace.self])
}

/// What every importer shares: the log, the output and --strict.
struct ImportOptions: ParsableArguments {
    @Argument(help: "The log to import.") var log: String
    @Option(name: .shortAndLong, help: "Output trace file.") var output: String
    @Flag(help: "Reject the whole input at the first malformed line (default: skip it with a warning).") var strict = false

    static let exitCodes = """
        A malformed line (unparseable, a number out of range, longer than 1 MiB) is skipped with a warning on stderr naming its line number; \
        the first 20 are printed, then their count.

        Exit codes:
          0  imported (any skipped lines reported on stderr)
          2  the log cannot be read, the output cannot be written, a usage error, or (--strict) a malformed line, named with its line \
        number; with --strict nothing is written
        """

    /// Runs `importer` over the log with these options; the first 20 skipped lines are printed, then the count.
    func run(_ importer: some LogImporter) throws {
        var importer = importer
        var skipped = 0
        importer.strict = strict
        // ImportProblem's text is already escaped for terminals (printError would escape its backslashes again).
        importer.warn = { problem in
            skipped += 1
            if skipped <= 20 { FileHandleStream.standardError.write("vfiotrace: warning: \(problem) (line skipped)\n") }
        }
        do {
            let n = try importer.run(input: log, output: output)
            printError("imported \(n) events into \(output)" + (skipped > 0 ? "; \(skipped) malformed lines skipped" : ""))
        } catch let p as ImportProblem {
            FileHandleStream.standardError.write("vfiotrace: \(p)\n")
            throw ExitCode(2)
        } catch let e as TraceError {
            throw CommandFailure(e.description)
        }
    }
}

/// `vfiotrace import jsonl`: driver-side / kernel-side events in the documented JSON Lines format.
struct ImportJSONL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jsonl",
        abstract: "Import driver-side and kernel-side events (trap on/off, signals, markers, device_state) from JSON Lines (docs/IMPORT.md).",
        discussion: """
            Example: vfiotrace import jsonl driver.jsonl --clock-from vmm.vftrace -o driver.vftrace
            A log whose times are the host's CLOCK_MONOTONIC (a kernel driver's ktime_get_ns) is placed exactly with \
            --clock-from, a recording made on the same host and boot; otherwise through its clock line.

            """ + ImportOptions.exitCodes)

    @OptionGroup var options: ImportOptions
    @Option(help: "A vfiotrace recording made on the same host and boot: the log's monotonic times are its times.")
    var clockFrom: String?

    func run() throws {
        var clock: ClockSample?
        if let clockFrom {
            do { clock = try TraceReader(path: clockFrom).header.startClock } catch {
                throw CommandFailure("--clock-from \(clockFrom): \(error)")
            }
        }
        try options.run(JSONLImporter(sameClockAs: clock))
    }
}

/// `vfiotrace import qemu-trace`: QEMU's log trace backend (`-trace 'vfio_*' -msg timestamp=on`).
struct ImportQEMUTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qemu-trace",
        abstract: "Import QEMU's trace log (-trace 'vfio_*' -msg timestamp=on): mmaps enabled/disabled, interrupts, migration states.",
        discussion: """
            Example:
              qemu-system-x86_64 ... -trace 'vfio_*' -msg timestamp=on -D qemu.log
              vfiotrace import qemu-trace qemu.log -o qemu.vftrace

            """ + ImportOptions.exitCodes)

    @OptionGroup var options: ImportOptions

    func run() throws {
        try options.run(QEMUTraceImporter())
    }
}

/// `vfiotrace import strace`: `strace -f -ttt [-T] [-y] [-X raw]` output.
struct ImportStrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strace",
        abstract: "Import strace -f -ttt output (-T, -y and -X raw understood; unfinished/resumed pairs joined).",
        discussion: """
            Example:
              strace -f -ttt -T -y -X raw -o vmm.strace -p PID
              vfiotrace import strace vmm.strace -o vmm.vftrace

            """ + ImportOptions.exitCodes)

    @OptionGroup var options: ImportOptions

    func run() throws {
        try options.run(StraceImporter())
    }
}

/// `vfiotrace import ftrace`: the kernel's ftrace text, with vfio-pci's interrupt handlers as signals.
struct ImportFtrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ftrace",
        abstract: "Import the kernel's ftrace output (trace_clock mono): vfio-pci interrupt handlers become kernel-side signals.",
        discussion: """
            Record with:
              cd /sys/kernel/tracing; echo mono > trace_clock; echo 1 > events/irq/irq_handler_entry/enable
            Example:
              vfiotrace import ftrace trace.txt --clock-from vmm.vftrace -o kernel.vftrace

            irq_handler_entry lines of vfio-intx(BDF), vfio-msi[N](BDF) and vfio-msix[N](BDF) become irq.signal \
            markers of that device; other lines become markers. ftrace's mono clock is the host's CLOCK_MONOTONIC, \
            so the trace takes the clock pair of --clock-from, a recording made on the same host (exit 2 when it \
            cannot be read).

            """ + ImportOptions.exitCodes)

    @OptionGroup var options: ImportOptions
    @Option(help: "A vfiotrace recording made on the same host (its clock pair places the ftrace times).") var clockFrom: String

    func run() throws {
        let clock: ClockSample
        do { clock = try TraceReader(path: clockFrom).header.startClock } catch {
            throw CommandFailure("--clock-from \(clockFrom): \(error)")
        }
        try options.run(FtraceImporter(clock: clock))
    }
}
