import ArgumentParser

/// Commands that read trace files back (this file is the list; each command has its own file).
let formatCommands: [any ParsableCommand.Type] = [Dump.self, Verify.self, Stats.self]
