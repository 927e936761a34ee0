public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program to completion and reports what the kernel says of it: exit status or signal, and its peak
/// resident memory (wait4's rusage), which Foundation's Process does not give.
public enum ChildProcess {
    public struct Outcome: Sendable {
        public var status: Int32
        /// The signal that ended it, if one did (a Swift trap is SIGILL or SIGTRAP).
        public var signal: Int32?
        public var stdout: String
        public var stderr: String
        /// Peak resident set size in KiB.
        public var maxRSSKiB: Int
        public var seconds: Double
    }

    /// `environment` entries replace the inherited ones of the same name.
    public static func run(_ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vfiotrace-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outPath = dir.appendingPathComponent("out").path
        let errPath = dir.appendingPathComponent("err").path
        let inPath = dir.appendingPathComponent("in").path
        FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // The peak RSS comes from GNU time, which forks the program from its own small process: a process
        // spawned straight from this (large, threaded) test runner inherits the runner's high-water RSS at its
        // exec (the kernel keeps the old mm's peak in the process's maxrss), which wait4 would report.
        let rssPath = dir.appendingPathComponent("rss").path
        let timed = FileManager.default.isExecutableFile(atPath: "/usr/bin/time")
        let command = timed ? ["/usr/bin/time", "-f", "%M", "-o", rssPath, executable] + arguments : [executable] + arguments
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let start = Date()
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        let rc = posix_spawn(&pid, command[0], &actions, nil, argv, envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Date().timeIntervalSince(start)
        var exited = status & 0x7F == 0
        var code = (status >> 8) & 0xFF
        var signal: Int32? = exited ? nil : status & 0x7F
        var maxRSS = Int(usage.ru_maxrss)
        if timed, let report = try? String(contentsOfFile: rssPath, encoding: .utf8) {
            // GNU time: "Command terminated by signal N" / "Command exited with non-zero status N", then %M.
            let lines = report.split(separator: "\n")
            if let kb = lines.last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) { maxRSS = kb }
            if let line = lines.first(where: { $0.hasPrefix("Command terminated by signal ") }), let n = Int32(line.split(separator: " ").last ?? "")
            {
                exited = false
                signal = n
            } else if exited, code != 0, let line = lines.first(where: { $0.hasPrefix("Command exited with non-zero status ") }),
                let n = Int32(line.split(separator: " ").last ?? "")
            {
                code = n
            }
        }
        return Outcome(
            status: exited ? code : -1, signal: signal,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
            maxRSSKiB: maxRSS, seconds: seconds)
    }
}
