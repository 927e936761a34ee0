import ArgumentParser

/// The report subcommands (this file is the list; each command has its own file).
let reportCommands: [any ParsableCommand.Type] = [Report.self, Compare.self, Import.self, Merge.self]
