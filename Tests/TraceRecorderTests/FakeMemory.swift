@testable import TraceRecorder

/// Tracee memory made of byte buffers placed at addresses, built by hand from the uapi layouts.
final class FakeMemory: TraceeMemory {
    var regions: [(address: UInt64, bytes: [UInt8])] = []

    func place(_ bytes: [UInt8], at address: UInt64) { regions.append((address, bytes)) }

    func read(pid: Int32, address: UInt64, count: Int) -> [UInt8]? {
        // (Compared as a distance: buffers may sit at the very top of the address space.)
        for r in regions where address >= r.address && address - r.address < UInt64(r.bytes.count) {
            let start = Int(address - r.address)
            return Array(r.bytes[start..<min(r.bytes.count, start + count)])
        }
        return nil
    }
}

/// Little-endian struct building for tests.
struct Bytes {
    var b: [UInt8] = []
    mutating func u16(_ v: UInt16) { b += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    mutating func u64(_ v: UInt64) { for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
}
