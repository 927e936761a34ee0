import Foundation
import TestSupport
import Testing
import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Traces written before format version 2 still read, event for event: the fixture is a version 1 trace written by
/// vfiotrace at commit b4ab8c4 (`simulate many-devices`, an strace and a JSONL import, merged), and its `dump` text
/// and JSON were printed by that same version. Neither side comes from the code under test.
@Suite struct FormatCompatibilityTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/format-v1")

    static func golden(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    @Test("a version 1 trace dumps, as text and as JSON, exactly as the version that wrote it dumped it")
    func versionOneDumps() throws {
        let trace = Self.directory.appendingPathComponent("merged.vftrace").path
        let r = try TraceReader(path: trace)
        #expect(r.header.formatVersion == 1)
        _ = try r.readAll()
        #expect(r.isIntact, "\(r.damage)")
        for (args, file) in [([String](), "merged.dump.txt"), (["--format", "jsonl"], "merged.dump.jsonl")] {
            let out = try ChildProcess.run(BuildProducts.path("vfiotrace"), ["dump"] + args + [trace])
            #expect(out.status == 0, "\(out.stderr)")
            #expect(out.stdout == (try Self.golden(file)), "dump \(args)")
        }
    }

    @Test("rewritten by this version (format 2), the same trace dumps the same")
    func rewrittenAsVersionTwo() throws {
        let trace = Self.directory.appendingPathComponent("merged.vftrace").path
        let copy = NSTemporaryDirectory() + "vfiotrace-v2-\(getpid()).vftrace"
        defer { unlink(copy) }
        let original = try TraceReader(path: trace)
        var header = original.header
        header.formatVersion = TraceFormat.version
        let w = try TraceWriter(path: copy, header: header)
        for e in try original.readAll() { try w.append(e) }
        try w.close()
        let r = try TraceReader(path: copy)
        #expect(r.header.formatVersion == TraceFormat.version)
        let out = try ChildProcess.run(BuildProducts.path("vfiotrace"), ["dump", copy])
        #expect(out.stdout == (try Self.golden("merged.dump.txt")))
    }
}
