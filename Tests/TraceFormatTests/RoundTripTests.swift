import Testing

@testable import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Encode/decode of randomly generated events is exact.
@Suite struct RoundTripTests {
    @Test("random events round-trip exactly", arguments: [1, 2, 3, 42, 1234, 99_999] as [UInt64])
    func randomEventsRoundTrip(seed: UInt64) throws {
        var gen = RandomEvents(seed: seed)
        let events = gen.events(3000)
        let path = TraceFiles.temporaryPath("rt")
        defer { unlink(path) }
        // Small chunks so the string table and delta state restart many times.
        let w = try TraceFiles.write(events, to: path, chunkBytes: 4096)
        let r = try TraceReader(path: path)
        let back = try r.readAll()
        #expect(back.count == events.count)
        let mismatch = zip(back, events).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(mismatch == nil, "first differing event at index \(mismatch?.offset ?? -1): \(String(describing: mismatch?.element))")
        #expect(r.damage.isEmpty)
        #expect(r.footer?.totalEvents == UInt64(events.count))
        #expect(r.footer?.entries.count == w.chunksWritten)
        #expect(w.chunksWritten > 10)
    }

    @Test("header fields survive the round trip")
    func headerRoundTrip() throws {
        let path = TraceFiles.temporaryPath("hdr")
        defer { unlink(path) }
        let header = TraceHeader(
            recorderVersion: "9.9.9", kernelRelease: "6.1.0-test", architecture: "aarch64", pageSize: 65536,
            source: "record", command: ["qemu-system-x86_64", "-device", "vfio-pci,host=0000:00:05.0"],
            pids: [100, -1, 2_000_000], startClock: ClockSample(monotonicNs: 123, realtimeNs: 456))
        let w = try TraceWriter(path: path, header: header)
        try w.close(closeClock: ClockSample(monotonicNs: 789, realtimeNs: 1011))
        let r = try TraceReader(path: path)
        #expect(r.header == header)
        #expect(try r.readAll().isEmpty)
        #expect(r.footer?.closeClock == ClockSample(monotonicNs: 789, realtimeNs: 1011))
        #expect(r.isIntact)
    }

    @Test(
        "varints and zigzag round-trip at the extremes",
        arguments: [0, 1, 127, 128, 16383, 16384, Int64.max, Int64.min, -1, -64, -65, Int64(Int32.min)] as [Int64])
    func zigzag(value: Int64) throws {
        var w = ByteWriter()
        w.zigzag(value)
        w.varint(UInt64(bitPattern: value))
        let decoded = try w.bytes.withUnsafeBytes { raw throws -> (Int64, UInt64, Bool) in
            var r = ByteReader(raw)
            let z = try r.zigzag()
            let v = try r.varint()
            return (z, v, r.atEnd)
        }
        #expect(decoded.0 == value)
        #expect(decoded.1 == UInt64(bitPattern: value))
        #expect(decoded.2)
    }

    @Test("an overlong varint is rejected, not wrapped")
    func overlongVarint() {
        let bytes: [UInt8] = Array(repeating: 0xFF, count: 10) + [0x01]
        bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            #expect(throws: ByteReader.Malformed.self) { try r.varint() }
        }
    }

    @Test("CRC32C matches the standard check value")
    func crcCheckValue() {
        // RFC 3720 / iSCSI check value for "123456789".
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        "123456789".utf8.withContiguousStorageIfAvailable { #expect(CRC32C.software(UnsafeRawBufferPointer($0)) == 0xE306_9283) }
    }

    @Test("the CPU instruction and the table agree on random buffers of every small length")
    func crcImplementationsAgree() {
        var rng = SplitMix64(seed: 11)
        for n in 0..<300 {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { raw in
                #expect(CRC32C.checksum(raw) == CRC32C.software(raw), "length \(n)")
            }
        }
    }
}

/// The byte-level example in docs/FORMAT.md, computed by hand, matches the encoder.
@Suite struct FormatDocumentationTests {
    @Test("the documented eventfd example encodes to the documented bytes")
    func workedExample() throws {
        var enc = ChunkEncoder()
        _ = enc.append(
            TraceEvent(
                time: 1_000_000, endTime: 1_000_500, pid: 100, tid: 101, result: 8,
                payload: .eventfd(EventfdOp(operation: .read, fd: 9, value: 1))))
        let body = enc.finish()
        // docs/FORMAT.md, "Worked example": no strings; base time 1 000 000; kinds [9]; flags [0x0F]; Δtime width 0;
        // duration 500 (zigzag 1000, 2 bytes); pid 100, tid 101, result 8 (zigzag, 1 byte each); then every kind's
        // columns in order, empty (width 0) but eventfd's: operation 1, fd zigzag 18, value 1, flags width 0.
        let empty: (Int) -> [UInt8] = { [UInt8](repeating: 0, count: $0) }
        let expected: [UInt8] =
            [0x00, 0x40, 0x42, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x09, 0x01, 0x0F, 0x00, 0x02, 0xE8, 0x03, 0x01, 0xC8, 0x01, 0xCA,
             0x01, 0x10]
            + empty(6 + 4 + 3 + 12 + 8 + 7 + 12 + 6)  // kinds 1–8: fields and list items
            + [0x01, 0x01, 0x01, 0x12, 0x01, 0x01, 0x00]  // kind 9, eventfd
            + empty(5 + 7 + 5 + 4 + 6 + 3)  // kinds 10–15
        #expect(body == expected)
    }
}
