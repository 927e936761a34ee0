import CBPFRecorder
import Testing
import TraceFormat

@testable import TraceRecorder

/// The eBPF backend's user side without a kernel: ring-buffer records built by hand (struct vft_record), the
/// captured-memory view the decoder reads, and the backend's lifecycle and lost events.
@Suite struct BPFRecordTests {
    let table = SyscallTable.x86_64

    /// A raw record as vfiotrace.bpf.c writes it.
    func raw(
        kind: UInt32 = UInt32(VFT_SYSCALL.rawValue), tgid: UInt32 = 100, tid: UInt32 = 101, nr: Int32, args: [UInt64] = [],
        result: Int64 = 0, captures: [(UInt64, [UInt8])] = [], entry: UInt64 = 1000, exit: UInt64 = 2000
    ) -> [UInt8] {
        var r = vft_record()
        r.kind = kind
        r.tgid = tgid
        r.tid = tid
        r.nr = nr
        r.entry_ns = entry
        r.exit_ns = exit
        let a = args + Array(repeating: 0, count: 6 - args.count)
        r.args = (a[0], a[1], a[2], a[3], a[4], a[5])
        r.result = result
        let c = captures + Array(repeating: (0, []), count: 2 - captures.count)
        r.mem_addr = (c[0].0, c[1].0)
        r.mem_len = (UInt32(c[0].1.count), UInt32(c[1].1.count))
        return withUnsafeBytes(of: &r) { Array($0) } + c[0].1 + c[1].1
    }

    /// task->exit_code and the status it means: exit(3), SIGKILL, SIGTERM with a core dump.
    static let exitCodes: [(Int64, Int32)] = [(0, 0), (3 << 8, 3), (9, 137), (0x8F, 143)]

    func parse(_ bytes: [UInt8]) -> BPFRecord? { bytes.withUnsafeBytes { BPFRecord($0, table: table) } }

    @Test("captured memory: reads inside a capture get its bytes from there on; elsewhere nothing")
    func capturedMemory() {
        let m = CapturedMemory(segments: [(0x1000, Array(0..<32)), (0x9000, [7, 8]), (0x5000, [])])
        #expect(m.read(pid: 1, address: 0x1000, count: 4) == [0, 1, 2, 3])
        #expect(m.read(pid: 1, address: 0x101E, count: 8) == [30, 31])
        #expect(m.read(pid: 1, address: 0x1020, count: 1) == nil)
        #expect(m.read(pid: 1, address: 0x0FFF, count: 4) == nil)
        #expect(m.read(pid: 1, address: 0x9001, count: 4) == [8])
        #expect(m.read(pid: 1, address: 0x5000, count: 1) == nil)
        #expect(m.read(pid: 1, address: 0x1000, count: 0) == [])
        // The top of the address space: no overflow.
        let top = CapturedMemory(segments: [(UInt64.max - 1, [1, 2])])
        #expect(top.read(pid: 1, address: UInt64.max, count: 8) == [2])
    }

    @Test("a string longer than one of the decoder's 64-byte reads comes back whole from a capture")
    func longString() {
        let path = "/dev/vfio/" + String(repeating: "x", count: 150)
        let m = CapturedMemory(segments: [(0x4000, Array(path.utf8) + [0])])
        #expect(m.string(1, 0x4000) == path)
    }

    @Test(
        "records of every kind parse; exit codes become statuses as wait(2) gives them",
        arguments: Self.exitCodes)
    func kinds(exitCode: Int64, status: Int32) throws {
        guard case .syscall(let r, let mem) = parse(raw(nr: 16, args: [5, 0x3B6C, 0x2000], result: -22, captures: [(0x2000, [1, 2, 3])]))
        else {
            Issue.record("not a syscall record")
            return
        }
        #expect(r.syscall == .ioctl && r.pid == 100 && r.tid == 101 && r.result == -22 && r.entryNs == 1000 && r.exitNs == 2000)
        #expect(r.args == [5, 0x3B6C, 0x2000, 0, 0, 0])
        #expect(mem.read(pid: 100, address: 0x2001, count: 8) == [2, 3])
        guard case .fork(100, 101, 300, 300, false, 1000) = parse(raw(kind: 2, nr: -1, args: [300, 300, 0])) else {
            Issue.record("fork")
            return
        }
        guard case .exec(100, 102, _) = parse(raw(kind: 3, nr: -1, args: [102])) else {
            Issue.record("exec")
            return
        }
        guard case .exit(100, _, let s, _) = parse(raw(kind: 4, nr: -1, result: exitCode)) else {
            Issue.record("exit")
            return
        }
        #expect(s == status)
    }

    @Test("malformed records are refused: short, unknown kind or syscall, captures past the end")
    func malformed() {
        let good = raw(nr: 16, args: [5, 0x3B6C, 0x2000], captures: [(0x2000, [1, 2, 3, 4])])
        #expect(parse(good) != nil)
        #expect(parse(Array(good.prefix(BPFRecord.headerSize - 1))) == nil)
        #expect(parse(Array(good.dropLast())) == nil)
        #expect(parse(raw(kind: 99, nr: 16)) == nil)
        #expect(parse(raw(nr: 9999)) == nil)
        #expect(parse(raw(nr: -1)) == nil)
    }

    @Test("the backend decodes a record exactly as the ptrace path decodes the same call from live memory")
    func sameDecoding() {
        // GET_REGION_INFO with a sparse-mmap capability (as in DecoderTests), after the device's open.
        var s = Bytes()
        s.u32(64); s.u32(0xF); s.u32(0); s.u32(32); s.u64(0x1000); s.u64(0)
        s.u16(1); s.u16(1); s.u32(0); s.u32(1); s.u32(0); s.u64(0x100); s.u64(0x200)
        let calls: [(Syscall, [UInt64], Int64, [(UInt64, [UInt8])])] = [
            (.openat, [UInt64(bitPattern: -100), 0x1000, 2], 5, [(0x1000, Array("/dev/vfio/devices/vfio0\0".utf8))]),
            (.ioctl, [5, 0x3B6C, 0x2000], 0, [(0x2000, s.b)]),
            (.eventfd2, [0, 0o2000000], 6, []),
            (.write, [6, 0x3000, 8], 8, [(0x3000, [1, 0, 0, 0, 0, 0, 0, 0])]),
            (.pread64, [5, 0x3100, 4, 0x10], 4, [(0x3100, [0xED, 0, 0, 1])]),
            (.close, [6], 0, []),
        ]
        var viaBPF: [TraceEvent] = []
        let backend = BPFBackend(decoder: SyscallDecoder(), clock: { 0 }) { viaBPF.append($0) }
        let live = FakeMemory()
        let decoder = SyscallDecoder()
        var viaPtrace: [TraceEvent] = []
        for (call, args, result, captures) in calls {
            for (a, b) in captures { live.place(b, at: a) }
            parse(raw(nr: Int32(table.number(of: call)!), args: args, result: result, captures: captures)).map(backend.handle)
            let record = SyscallRecord(
                pid: 100, tid: 101, syscall: call, number: table.number(of: call)!, args: args, result: result, entryNs: 1000,
                exitNs: 2000)
            viaPtrace += decoder.decode(record, memory: live)
        }
        #expect(viaBPF.count == 7)  // the open is an fd change and a device open
        #expect(viaBPF == viaPtrace)
    }

    @Test("lifecycle: forks and threads as the tracer records them; exits end a process; drops become one lost event per gap")
    func lifecycle() {
        var events: [TraceEvent] = []
        var now: UInt64 = 10
        let backend = BPFBackend(decoder: SyscallDecoder(), clock: { now }) { events.append($0) }
        backend.attach(pid: 100, threads: 2, openFds: [(3, "/dev/kvm")])
        parse(raw(kind: 2, nr: -1, args: [102, 100, 1])).map(backend.handle)
        parse(raw(kind: 2, nr: -1, args: [200, 200, 0])).map(backend.handle)
        #expect(backend.processes == [100, 200])
        parse(raw(kind: 4, tgid: 200, tid: 200, nr: -1)).map(backend.handle)
        #expect(backend.processes == [100])
        backend.noteDrops(0)
        now = 50
        backend.noteDrops(7)
        backend.noteDrops(7)
        backend.detachAll()
        let ops = events.compactMap { e -> String? in
            switch e.payload {
            case .process(let p): return "\(p.operation) \(e.pid)/\(e.tid) \(p.target)"
            case .fd(let f): return "fd \(f.fd) \(f.kind)"
            case .lost(let l): return "lost \(l.count) \(l.fromNs)-\(l.toNs)"
            default: return nil
            }
        }
        #expect(
            ops == [
                "attach 100/100 100", "fd 3 kvmSystem", "threadStart 100/101 102", "fork 100/101 200", "exit 200/200 200", "lost 7 10-50",
                "detach 100/100 100",
            ])
    }
}
