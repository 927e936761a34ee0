import CSyscallShim

/// Reads a traced process's memory: process_vm_readv in production, byte buffers in tests.
package protocol TraceeMemory {
    /// Up to `count` bytes at `address`, or nil when unreadable.
    func read(pid: Int32, address: UInt64, count: Int) -> [UInt8]?
}

extension TraceeMemory {
    func u32(_ pid: Int32, _ address: UInt64) -> UInt32? {
        guard let b = read(pid: pid, address: address, count: 4), b.count == 4 else { return nil }
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    func u64(_ pid: Int32, _ address: UInt64) -> UInt64? {
        guard let b = read(pid: pid, address: address, count: 8), b.count == 8 else { return nil }
        return b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }

    /// A NUL-terminated string of at most `limit` bytes.
    func string(_ pid: Int32, _ address: UInt64, limit: Int = 512) -> String? {
        var out: [UInt8] = []
        var at = address
        while out.count < limit {
            // Read in small pieces so a string near the end of a mapping is still readable.
            guard let b = read(pid: pid, address: at, count: 64), !b.isEmpty else { break }
            if let nul = b.firstIndex(of: 0) {
                out += b[0..<nul]
                return String(decoding: out, as: UTF8.self)
            }
            out += b
            // The address is the tracee's: a string running into the end of the address space ends there.
            let (next, overflow) = at.addingReportingOverflow(UInt64(b.count))
            if overflow { break }
            at = next
        }
        return out.isEmpty ? nil : String(decoding: out.prefix(limit), as: UTF8.self)
    }
}

/// process_vm_readv: one syscall per read, no ptrace-stop state required.
package struct ProcessVMMemory: TraceeMemory {
    package init() {}

    package func read(pid: Int32, address: UInt64, count: Int) -> [UInt8]? {
        guard count > 0, count <= 1 << 16 else { return count == 0 ? [] : nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { raw in
            vft_read_memory(pid, raw.baseAddress, UInt(count), address)
        }
        guard n > 0 else { return nil }
        return Array(buffer[0..<Int(n)])
    }
}
