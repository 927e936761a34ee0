/// The decoder's view of tracee memory for one BPF record: only the bytes the kernel read at the syscall's exit.
/// A read inside a captured range gets what was captured from that address on (at most `count` bytes), as a
/// process_vm_readv running into the end of a mapping would; a read anywhere else finds nothing.
package struct CapturedMemory: TraceeMemory {
    package var segments: [(address: UInt64, bytes: [UInt8])]

    package init(segments: [(address: UInt64, bytes: [UInt8])]) { self.segments = segments.filter { !$0.bytes.isEmpty } }

    package func read(pid: Int32, address: UInt64, count: Int) -> [UInt8]? {
        guard count > 0 else { return count == 0 ? [] : nil }
        for s in segments where address >= s.address {
            let offset = address - s.address
            guard offset < UInt64(s.bytes.count) else { continue }
            let start = Int(offset)
            return Array(s.bytes[start..<min(s.bytes.count, start + count)])
        }
        return nil
    }
}
