import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Format benchmark: encode+compress and read+decompress+decode rates on one thread, bytes per
/// event, and the compressed frames exported so `zstd -d` can be timed on the same bytes.
///
/// Usage: vfiotrace-format-bench [EVENTS] [OUT.vftrace]
///        vfiotrace-format-bench read FILE [views]   (CPU time of reading FILE: as views, and as owned events)
let args = CommandLine.arguments

/// This process's CPU time (user + system), in seconds: on a shared machine, wall time includes waiting.
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

if args.count > 2 && args[1] == "read" {
    let path = args[2]
    // Read + decompress + CRC + decode, each event handed over as a view (what stats and analyze use).
    var views = 0
    var sum: UInt64 = 0
    let t0 = cpuSeconds()
    let r1 = try TraceReader(path: path)
    while try r1.nextChunk(batches: { batch in
        for v in batch {
            views += 1
            sum &+= v.time &+ UInt64(v.kind.rawValue)
        }
    }) != nil {}
    let t1 = cpuSeconds()
    if args.count > 3 && args[3] == "views" {
        print("views cpu s       \(t1 - t0)")
        exit(0)
    }
    // The same, each event built as an owned value (strings, arrays): what dump and the importers use.
    var owned = 0
    let r2 = try TraceReader(path: path)
    while try r2.nextChunk(visit: { e in
        owned += 1
        sum &+= e.time &+ UInt64(e.kind.rawValue)
    }) != nil {}
    let t2 = cpuSeconds()
    precondition(views == owned && UInt64(views) == r1.eventCount, "passes disagree: \(views) vs \(owned)")
    print("events            \(views)")
    print("raw bytes         \(r1.rawBytes)")
    print("views cpu s       \(t1 - t0)")
    print("owned cpu s       \(t2 - t1)")
    print("checksum          \(sum)")
    exit(0)
}
let count = args.count > 1 ? Int(args[1]) ?? 5_000_000 : 5_000_000
let path = args.count > 2 ? args[2] : "/tmp/vfiotrace-format-bench.vftrace"

var mix = SyntheticMix(seed: 1)
var events: [TraceEvent] = []
events.reserveCapacity(count)
for _ in 0..<count { events.append(mix.event()) }

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = MonotonicClock.now()
    try body()
    return Double(MonotonicClock.now() - t0) / 1e9
}

let writeTime = try seconds {
    let w = try TraceWriter(path: path, header: TraceHeader.forThisHost(source: "benchmark"))
    for e in events { try w.append(e) }
    try w.close()
}
events = []

var decoded = 0
var checksum: UInt64 = 0
let readTime = try seconds {
    let r = try TraceReader(path: path)
    while try r.nextChunk(visit: { e in
        decoded += 1
        checksum &+= e.time
    }) != nil {}
    precondition(r.isIntact, "benchmark file must read back intact")
}
precondition(decoded == count, "decoded \(decoded) of \(count)")

// Concatenate the chunks' zstd frames into one .zst for the `zstd -d` reference.
let reader = try TraceReader(path: path)
_ = try reader.readAll()
let fileSize = reader.fileSize
let fd = open(path, O_RDONLY)
let zst = open(path + ".zst", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
let entries = reader.footer!.entries
let footerStart = fileSize - 16 - UInt64(4 + 4 + entries.count * 36 + 8 + 16 + 4)
for (i, e) in entries.enumerated() {
    let end = i + 1 < entries.count ? entries[i + 1].offset : footerStart
    let start = e.offset + 48
    var buf = [UInt8](repeating: 0, count: Int(end - start))
    _ = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
    _ = buf.withUnsafeBytes { write(zst, $0.baseAddress, $0.count) }
}
close(fd)
close(zst)

print("events            \(count)")
print("file bytes        \(fileSize)")
print("bytes/event       \(Double(fileSize) / Double(count))")
print("raw bytes/event   \(Double(reader.rawBytes) / Double(count))")
print("write s           \(writeTime)  (\(Int(Double(count) / writeTime)) events/s)")
print("read s            \(readTime)  (\(Int(Double(count) / readTime)) events/s)")
print("zstd frames       \(path).zst  (time `zstd -d -c \(path).zst > /dev/null` for the reference)")
print("checksum          \(checksum)")
