import ArgumentParser

/// The recorder subcommands (this file is the list; each command has its own file).
let recorderCommands: [any ParsableCommand.Type] = [Record.self, Demo.self]
