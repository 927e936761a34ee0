import Testing
import TraceFormat

/// The mapping table shared by the recorder and the analyzer: splits, replacement, mremap.
@Suite struct DeviceMappingTableTests {
    let base: UInt64 = 0x10_0000

    @Test("a hole punched in the middle leaves two pieces with the right region offsets")
    func split() {
        var t = DeviceMappingTable()
        t.map(.init(user: base..<(base + 0x4000), device: "d", region: 2, regionOffset: 0x1000))
        let removed = t.unmap((base + 0x1000)..<(base + 0x2000))
        #expect(removed == [.init(user: (base + 0x1000)..<(base + 0x2000), device: "d", region: 2, regionOffset: 0x2000)])
        #expect(Set(t.mappings.map(\.regionOffset)) == [0x1000, 0x3000])
        #expect(t.devices(touching: base..<(base + 1)) == ["d"])
        #expect(t.devices(touching: (base + 0x1000)..<(base + 0x2000)).isEmpty)
    }

    @Test("a new mapping replaces what it overlaps; mremap moves the device range")
    func replaceAndMove() {
        var t = DeviceMappingTable()
        t.map(.init(user: base..<(base + 0x2000), device: "d", region: 0, regionOffset: 0))
        let replaced = t.map(.init(user: (base + 0x1000)..<(base + 0x3000), device: "e", region: 1, regionOffset: 0))
        #expect(replaced.map(\.device) == ["d"] && replaced.first?.regionOffset == 0x1000)
        let moved = t.remap(old: (base + 0x1000)..<(base + 0x3000), newStart: 0x90_0000, newLength: 0x4000)
        #expect(moved?.device == "e")
        #expect(t.mappings.contains(.init(user: 0x90_0000..<0x90_4000, device: "e", region: 1, regionOffset: 0)))
        #expect(t.remap(old: 0..<0x1000, newStart: 0x1000, newLength: 0x1000) == nil)
    }

    @Test("remove leaves what unmap leaves, whole mappings or parts, on random maps and unmaps", arguments: [1, 2, 3] as [UInt64])
    func removeAsUnmap(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var a = DeviceMappingTable()
        var b = DeviceMappingTable()
        for i in 0..<300 {
            let start = base + (rng.next() % 16) * 0x1000
            let range = start..<(start + (1 + rng.next() % 4) * 0x1000)
            if rng.next() % 2 == 0 {
                let m = DeviceMappingTable.Mapping(user: range, device: "d\(i % 3)", region: Int32(i % 2), regionOffset: rng.next() % 8 * 0x1000)
                a.map(m)
                b.map(m)
            } else if rng.next() % 2 == 0, let whole = a.mappings.randomElement(using: &rng) {
                // A munmap of exactly what was mapped.
                a.unmap(whole.user)
                b.remove(whole.user)
            } else {
                a.unmap(range)
                b.remove(range)
            }
            #expect(a.mappings == b.mappings)
        }
    }
}
