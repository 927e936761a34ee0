import ArgumentParser

/// The analysis subcommands (this file is the list; each command has its own file).
let analysisCommands: [any ParsableCommand.Type] = [Analyze.self, Simulate.self]
