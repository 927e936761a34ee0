import Testing

@testable import TraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// The writer bounds what a crash can lose: chunks seal by age and by size, each with one write.
@Suite struct WriterTests {
    static func event(_ i: Int) -> TraceEvent {
        TraceEvent(time: UInt64(i) * 1000, pid: 10, tid: 11, payload: .eventfd(EventfdOp(operation: .read, fd: 7, value: 1)))
    }

    @Test("an idle chunk is sealed once older than 100 ms, readable while the writer is still open")
    func sealsByAge() throws {
        let path = TraceFiles.temporaryPath("age")
        defer { unlink(path) }
        let w = try TraceFiles.write([Self.event(1), Self.event(2)], to: path, close: false)
        try w.sealIfDue()
        #expect(w.chunksWritten == 0, "a fresh chunk is not sealed early")
        usleep(120_000)
        try w.sealIfDue()
        #expect(w.chunksWritten == 1)
        // Like a crash: no close, no footer.
        let (events, damage, error) = TraceFiles.readable(path)
        #expect(error == nil)
        #expect(events == [Self.event(1), Self.event(2)])
        #expect(damage.map(\.code) == [.truncated])
        try w.close()
    }

    @Test("appending seals by size and by age without an explicit call")
    func sealsOnAppend() throws {
        let path = TraceFiles.temporaryPath("size")
        defer { unlink(path) }
        var options = TraceWriter.Options()
        options.maxChunkBytes = 1000
        let w = try TraceWriter(path: path, header: TraceHeader(), options: options)
        for i in 0..<1000 { try w.append(Self.event(i)) }
        #expect(w.chunksWritten >= 5)
        let sealedBefore = w.chunksWritten
        options.maxChunkBytes = 1 << 30
        let slow = try TraceWriter(path: path + ".2", header: TraceHeader(), options: options)
        defer { unlink(path + ".2") }
        try slow.append(Self.event(0))
        usleep(110_000)
        for i in 0..<300 { try slow.append(Self.event(i)) }
        #expect(slow.chunksWritten == 1, "the age check on append sealed the old chunk")
        try w.close()
        try slow.close()
        #expect(sealedBefore > 0)
    }

    @Test("disk full: the error names the file and errno, and every chunk written before stays readable")
    func diskFull() throws {
        // A real full disk: a 16 KiB tmpfs (needs root; skipped where mounting is not allowed).
        var template = Array("/tmp/vfiotrace-full-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { return }
        let dir = String(cString: template)
        defer { rmdir(dir) }
        guard mount("tmpfs", dir, "tmpfs", 0, "size=16k") == 0 else {
            print("skipping disk-full test: cannot mount a tmpfs here (errno \(errno))")
            return
        }
        defer { umount(dir) }
        let path = dir + "/t.vftrace"
        defer { unlink(path) }
        var options = TraceWriter.Options()
        options.maxChunkBytes = 2000
        options.compressionLevel = 1
        let w = try TraceWriter(path: path, header: TraceHeader(), options: options)
        var gen = RandomEvents(seed: 5)
        var failure: TraceError?
        var appended = 0
        while failure == nil && appended < 1_000_000 {
            do {
                try w.append(gen.event())
                appended += 1
            } catch {
                failure = error
            }
        }
        let error = try #require(failure)
        #expect(error.code == .io)
        #expect(error.description.contains(path))
        #expect(error.description.contains("No space left on device"))
        #expect(throws: TraceError.self) { try w.append(Self.event(1)) }
        let chunks = w.chunksWritten
        #expect(chunks > 0)
        let r = try TraceReader(path: path)
        let events = try r.readAll()
        #expect(r.chunkCount == chunks)
        #expect(UInt64(events.count) == w.eventsWritten)
        #expect(r.damage.contains { $0.code == .truncated })
    }
}
