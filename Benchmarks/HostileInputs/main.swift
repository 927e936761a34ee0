// `vfiotrace-fuzz`: hostile inputs through every reader, each batch of cases in a forked child so that a
// crash or a hang is counted and named instead of ending the run. Run by Benchmarks/hostile-inputs.sh.
//
//   vfiotrace-fuzz [--cases N] [--seed S] [--batch B] [--timeout SECONDS]
//
// Prints one line per crash or hang (case index, surface, signal; rerun one case with --cases 1 --first I)
// and a summary: cases, crashes, hangs, worst peak RSS of a child. Exit 1 when anything crashed or hung.
import Glibc
import TestSupport

/// Writes to standard error (Glibc's `stderr` is a global var Swift 6 will not touch).
func complain(_ s: String) {
    var bytes = Array(s.utf8)
    _ = write(2, &bytes, bytes.count)
}

var cases: UInt64 = 100_000
var seed: UInt64 = 1
var first: UInt64 = 0
var batch: UInt64 = 500
var timeoutSeconds: Int32 = 20
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    guard let v = args.popFirst(), let n = UInt64(v) else {
        complain("usage: vfiotrace-fuzz [--cases N] [--seed S] [--first I] [--batch B] [--timeout SECONDS]\n")
        exit(2)
    }
    switch a {
    case "--cases": cases = n
    case "--seed": seed = n
    case "--first": first = n
    case "--batch": batch = max(1, n)
    case "--timeout": timeoutSeconds = Int32(clamping: n)
    default:
        complain("vfiotrace-fuzz: unknown option \(a)\n")
        exit(2)
    }
}

var template = Array("/tmp/vfiotrace-fuzz-XXXXXX".utf8CString)
guard let dirPointer = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
    complain("vfiotrace-fuzz: cannot create a temporary directory\n")
    exit(2)
}
let directory = String(cString: dirPointer)

/// Runs cases [from, to) in a child; returns how it ended, the index it was at, and its peak RSS.
@MainActor func runBatch(from: UInt64, to: UInt64) -> (crashedAt: UInt64?, signal: Int32, hung: Bool, maxRSSKiB: Int) {
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    let pid = fork()
    if pid == 0 {
        close(fds[0])
        // The harness's own check: VFIOTRACE_FUZZ_TRAP_AT=I makes case I trap, VFIOTRACE_FUZZ_HANG_AT=I hang.
        let trapAt = getenv("VFIOTRACE_FUZZ_TRAP_AT").flatMap { UInt64(String(cString: $0)) }
        let hangAt = getenv("VFIOTRACE_FUZZ_HANG_AT").flatMap { UInt64(String(cString: $0)) }
        for i in from..<to {
            var index = i
            _ = write(fds[1], &index, 8)
            if i == trapAt { fatalError("planted trap at case \(i)") }
            if i == hangAt { while true { pause() } }
            if let made = try? HostileCases.make(index: i, seed: seed, directory: directory) {
                HostileCases.run(path: made.path, surface: made.surface)
                unlink(made.path)
            }
        }
        _exit(0)
    }
    close(fds[1])
    var current = from
    var hung = false
    while true {
        var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        let ready = poll(&p, 1, timeoutSeconds * 1000)
        if ready == 0 {
            hung = true
            kill(pid, SIGKILL)
            break
        }
        var index: UInt64 = 0
        if read(fds[0], &index, 8) != 8 { break }
        current = index
    }
    close(fds[0])
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let signalled = status & 0x7F != 0
    let failed = hung || signalled || (status >> 8) & 0xFF != 0
    return (failed ? current : nil, status & 0x7F, hung, Int(usage.ru_maxrss))
}

var crashes = 0
var hangs = 0
var worstRSS = 0
var start = timespec()
clock_gettime(CLOCK_MONOTONIC, &start)
var next = first
let end = first + cases
while next < end {
    let to = min(end, next + batch)
    let r = runBatch(from: next, to: to)
    worstRSS = max(worstRSS, r.maxRSSKiB)
    if let at = r.crashedAt {
        if r.hung { hangs += 1 } else { crashes += 1 }
        let surface = (try? HostileCases.make(index: at, seed: seed, directory: directory).surface.rawValue) ?? "?"
        print(
            "\(r.hung ? "HANG" : "CRASH") case \(at) (\(surface)), signal \(r.signal); rerun: vfiotrace-fuzz --seed \(seed) --first \(at) --cases 1")
        next = at + 1
    } else {
        next = to
    }
    if (next - first) % 10_000 < batch { complain("\r\(next - first) / \(cases) cases") }
}
var stop = timespec()
clock_gettime(CLOCK_MONOTONIC, &stop)
let seconds = Double(stop.tv_sec - start.tv_sec) + Double(stop.tv_nsec - start.tv_nsec) / 1e9
complain("\n")
_ = rmdir(directory)
print("cases \(cases), seed \(seed): crashes \(crashes), hangs \(hangs), worst peak RSS \(worstRSS / 1024) MiB, \(Int(seconds)) s")
exit(crashes + hangs > 0 ? 1 : 0)
