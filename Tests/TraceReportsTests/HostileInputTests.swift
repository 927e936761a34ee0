import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A bounded slice of the hostile-input run (`Benchmarks/hostile-inputs.sh` runs 100,000): crafted chunks,
/// damaged traces and mutated logs of every importer through every reader and report, in this process —
/// a trap fails the whole test run, loudly.
@Suite struct HostileInputTests {
    @Test("hostile inputs of every surface read, analyze and report without a trap", arguments: [UInt64(1), 2, 3])
    func bounded(seed: UInt64) throws {
        var template = Array("/tmp/vfiotrace-hostile-XXXXXX".utf8CString)
        let dir = String(cString: try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }))
        defer { rmdir(dir) }
        var seen = Set<HostileCases.Surface>()
        var outcomes = Set<String>()
        for i in 0..<UInt64(150) {
            let c = try HostileCases.make(index: i, seed: seed, directory: dir)
            defer { unlink(c.path) }
            seen.insert(c.surface)
            let outcome = HostileCases.run(path: c.path, surface: c.surface)
            outcomes.insert(String(outcome.prefix(while: { $0 != "," && $0 != ":" })))
        }
        // The generator reaches every surface, and the pipeline takes more than one road (refusal, damage, a verdict).
        #expect(seen == Set(HostileCases.Surface.allCases))
        #expect(outcomes.count >= 3, "\(outcomes)")
    }
}
