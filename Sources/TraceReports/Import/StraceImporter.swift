import Foundation
import TraceFormat

/// Imports `strace -f -ttt` output (also with `-T`, `-y`, `-X raw`) into the events the recorder would
/// have written, for rigs that already capture with strace. Times are strace's wall-clock stamps, so
/// the trace gets the clock pair (0, 0) and `merge` aligns it with recordings.
public struct StraceImporter {
    public var strict = false
    public var warn: (ImportProblem) -> Void = { _ in }

    public init() {}

    /// One complete call (an `<unfinished ...>` line joined with its `<... resumed>` line).
    struct Call: Equatable {
        var pid: Int32
        var timeNs: UInt64
        var name: String
        var args: [String]
        var result: Int64
        /// `timeNs` plus the `-T` duration (checked not to pass 2^64 ns).
        var endTimeNs: UInt64
    }

    /// Calls waiting for their `<... resumed>` line, at most `maxPendingCalls` of them holding at most
    /// `maxPendingBytes` of argument text; an `<unfinished ...>` line beyond that is refused.
    static let maxPendingCalls = 4096
    static let maxPendingBytes = 16 << 20
    /// Fds whose role is remembered, at most (their paths and device names at most 16 MiB in all).
    static let maxTrackedFds = 1 << 16
    static let maxTrackedBytes = 16 << 20

    /// `<unfinished ...>` calls by thread, with the bytes they hold.
    struct PendingCalls {
        var calls: [Int32: (time: UInt64, name: String, head: String)] = [:]
        var bytes = 0

        mutating func insert(_ pid: Int32, _ call: (time: UInt64, name: String, head: String)) throws(LineRejection) {
            let replaced = calls[pid].map { $0.name.utf8.count + $0.head.utf8.count } ?? 0
            let added = call.name.utf8.count + call.head.utf8.count
            guard calls[pid] != nil || calls.count < StraceImporter.maxPendingCalls else {
                throw LineRejection("more than \(StraceImporter.maxPendingCalls) calls are <unfinished ...> at once")
            }
            guard bytes - replaced + added <= StraceImporter.maxPendingBytes else {
                throw LineRejection("<unfinished ...> calls would hold more than \(StraceImporter.maxPendingBytes) bytes of arguments")
            }
            calls[pid] = call
            bytes += added - replaced
        }

        mutating func remove(_ pid: Int32) -> (time: UInt64, name: String, head: String)? {
            guard let call = calls.removeValue(forKey: pid) else { return nil }
            bytes -= call.name.utf8.count + call.head.utf8.count
            return call
        }
    }

    /// Splits top-level comma-separated arguments (respecting quotes, braces, brackets, parentheses).
    static func splitArgs(_ s: Substring) -> [String] {
        var out: [String] = []
        var depth = 0
        var quoted = false
        var escaped = false
        var current = ""
        for c in s {
            if quoted {
                current.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quoted = false }
                continue
            }
            switch c {
            case "\"": quoted = true; current.append(c)
            case "{", "[", "(": depth += 1; current.append(c)
            case "}", "]", ")": depth -= 1; current.append(c)
            case "," where depth == 0:
                out.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            default: current.append(c)
            }
        }
        let last = current.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty { out.append(last) }
        return out
    }

    /// The bytes of a C-escaped strace string literal ("\1\0\0\0" or "abc"); nil when not a string.
    static func bytes(ofLiteral s: String) -> [UInt8]? {
        guard s.hasPrefix("\"") else { return nil }
        var out: [UInt8] = []
        var it = Array(s.utf8.dropFirst())
        var i = 0
        while i < it.count {
            let c = it[i]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\"), i + 1 < it.count {
                i += 1
                let e = it[i]
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "v"): out.append(11)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "x"):
                    var v = 0, n = 0
                    while n < 2, i + 1 < it.count, let d = Int(String(UnicodeScalar(it[i + 1])), radix: 16) { v = v * 16 + d; i += 1; n += 1 }
                    out.append(UInt8(v))
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var v = Int(e - UInt8(ascii: "0")), n = 1
                    while n < 3, i + 1 < it.count, it[i + 1] >= UInt8(ascii: "0"), it[i + 1] <= UInt8(ascii: "7") {
                        v = v * 8 + Int(it[i + 1] - UInt8(ascii: "0")); i += 1; n += 1
                    }
                    out.append(UInt8(truncatingIfNeeded: v))
                default: out.append(e)
                }
            } else {
                out.append(c)
            }
            i += 1
        }
        it.removeAll()
        return out
    }

    /// Whether `s` is ASCII digits, optionally after a '-'.
    static func isInteger(_ s: Substring) -> Bool { LogTimestamp.isDigits(s.hasPrefix("-") ? s.dropFirst() : s) }

    /// "5<anon_inode:[eventfd]>" -> (5, "anon_inode:[eventfd]"); nil when not an fd, refused when out of range.
    static func fdArg(_ s: String) throws(LineRejection) -> (fd: Int32, path: String?)? {
        let digits = s.prefix { ($0.isASCII && $0.isNumber) || $0 == "-" }
        guard isInteger(digits) else { return nil }
        guard let fd = Int32(digits) else { throw LineRejection("fd \(LogTimestamp.quoted(digits)) does not fit in 32 bits") }
        let rest = s.dropFirst(digits.count)
        if rest.hasPrefix("<") && rest.hasSuffix(">") { return (fd, String(rest.dropFirst().dropLast())) }
        return (fd, nil)
    }

    /// A decimal or `0x` hex number (anything after the digits ignored); nil when `s` is not a number,
    /// refused when it is one that does not fit in 64 bits.
    static func number(_ s: String) throws(LineRejection) -> UInt64? {
        let t = s.trimmingCharacters(in: .whitespaces)
        let hex = t.hasPrefix("0x")
        let digits = (hex ? t.dropFirst(2) : Substring(t)).prefix { $0.isASCII && (hex ? $0.isHexDigit : $0.isNumber) }
        guard !digits.isEmpty else { return nil }
        guard let n = UInt64(digits, radix: hex ? 16 : 10) else {
            throw LineRejection("number \(LogTimestamp.quoted(t.prefix(digits.count + (hex ? 2 : 0)))) does not fit in 64 bits")
        }
        return n
    }

    /// Field `key=value` of a decoded struct argument.
    static func field(_ s: String, _ key: String) throws(LineRejection) -> UInt64? {
        guard let r = s.range(of: key + "=") else { return nil }
        return try number(String(s[r.upperBound...].prefix { $0 != "," && $0 != "}" }))
    }

    /// Reads `source`, writes `output` as it goes; returns the number of events.
    public func run(_ source: LogSource, output: String) throws -> Int {
        // Times are wall clock: the identity pair. Events go out in the log's order (completion order, as
        // the recorder writes them), so no reorder window.
        let trace = try ImportedTrace(
            output: output, format: "strace", input: source.name, clock: ClockSample(monotonicNs: 0, realtimeNs: 0), ordered: false)
        var pending = PendingCalls()
        var decoder = Decoder()
        try LogLines.scan(source) { number, bytes in
            do {
                guard let call = try Self.call(String(decoding: bytes, as: UTF8.self), pending: &pending) else { return }
                let events = try decoder.events(for: call)
                trace.note(pid: call.pid)
                for e in events { _ = try trace.add(e) }
            } catch let r as LineRejection {
                try reject(ImportProblem(path: source.name, line: number, message: r.message))
            }
        } tooLong: {
            try rejectTooLong(source, line: $0)
        }
        return try trace.finish()
    }

    /// The complete call a line gives: nil for lines that give none (blank, signals and exits, an
    /// `<unfinished ...>` start, now held in `pending`, a resumed line without its start).
    static func call(_ line: String, pending: inout PendingCalls) throws(LineRejection) -> Call? {
        var s = Substring(line.trimmingCharacters(in: .whitespaces))
        if s.isEmpty { return nil }
        // [pid N] or N as the first token (with -f), then the -ttt stamp.
        var pid: Int32 = 0
        if s.hasPrefix("[pid") { s = s.dropFirst(4).drop { $0 == " " } }
        let first = s.prefix { $0 != " " && $0 != "]" }
        if !first.contains("."), let p = Int32(first) {
            pid = p
            s = s.dropFirst(first.count).drop { $0 == " " || $0 == "]" }
        }
        let stamp = s.prefix { $0 != " " }
        // Digits and one dot are a timestamp, to be refused if out of range; anything else is no timestamp.
        guard stamp.contains("."), stamp.utf8.allSatisfy({ $0 == 0x2E || ($0 >= 0x30 && $0 <= 0x39) }) else {
            throw LineRejection("no -ttt timestamp (run strace with -ttt)")
        }
        var time = try LogTimestamp.nanoseconds(stamp)
        var body = String(s.dropFirst(stamp.count).drop { $0 == " " })
        if body.hasPrefix("+++") || body.hasPrefix("---") { return nil }
        var name: String
        if body.hasPrefix("<... ") {
            let nameStart = body.index(body.startIndex, offsetBy: 5)
            guard let end = body.range(of: " resumed>", range: nameStart..<body.endIndex) else { throw LineRejection("malformed resumed line") }
            name = String(body[nameStart..<end.lowerBound])
            guard let p = pending.remove(pid) else { return nil }  // resumed without its start: skip
            guard p.name == name else { return nil }
            time = p.time
            body = name + "(" + p.head + body[end.upperBound...]
        }
        guard let open = body.firstIndex(of: "(") else { throw LineRejection("not a syscall line") }
        name = String(body[..<open])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { throw LineRejection("not a syscall line") }
        if let u = body.range(of: " <unfinished ...>"), u.lowerBound > open {
            try pending.insert(pid, (time, name, String(body[body.index(after: open)..<u.lowerBound])))
            return nil
        }
        // strace pads before " = " to align results: find the last " = " preceded (after spaces) by ")".
        var closeParen: String.Index?
        var tailStart: String.Index?
        var search = body.endIndex
        while let eq = body.range(of: " = ", options: .backwards, range: body.startIndex..<search) {
            var j = eq.lowerBound
            while j > body.startIndex, body[body.index(before: j)] == " " { j = body.index(before: j) }
            if j > body.startIndex, body[body.index(before: j)] == ")" {
                closeParen = body.index(before: j)
                tailStart = eq.upperBound
                break
            }
            search = eq.lowerBound
        }
        guard let closeParen, let tailStart, closeParen > open else { throw LineRejection("no result") }
        let args = Self.splitArgs(body[body.index(after: open)..<closeParen])
        let tail = body[tailStart...]
        let resultText = tail.prefix { $0 != " " && $0 != "<" }
        var result: Int64 = 0
        if resultText.hasPrefix("0x") {
            guard let r = UInt64(resultText.dropFirst(2), radix: 16) else {
                throw LineRejection("result \(LogTimestamp.quoted(resultText)) does not fit in 64 bits")
            }
            result = Int64(bitPattern: r)
        } else if isInteger(resultText) {
            guard let r = Int64(resultText) else { throw LineRejection("result \(LogTimestamp.quoted(resultText)) does not fit in 64 bits") }
            result = r
        }  // else "?" (a call that did not return): 0
        if result == -1, let errName = tail.split(separator: " ").dropFirst().first, let e = Self.errno[String(errName)] { result = -Int64(e) }
        var endTime = time
        if let lt = tail.lastIndex(of: "<"), tail.hasSuffix(">") {
            let text = tail[tail.index(after: lt)..<tail.index(before: tail.endIndex)]
            if let d = Double(text) {
                let shown = "<\(LogTimestamp.quoted(text))>"
                guard d.isFinite else { throw LineRejection("duration \(shown) is not a finite number of seconds") }
                guard d >= 0 else { throw LineRejection("duration \(shown) is negative") }
                // Below 2^64 ns, which UInt64(exactly:) checks after rounding.
                guard let ns = UInt64(exactly: (d * 1e9).rounded()) else { throw LineRejection("duration \(shown) is too long (2^64 ns or more)") }
                let (end, overflow) = time.addingReportingOverflow(ns)
                guard !overflow else { throw LineRejection("time \(stamp) + duration \(shown) is past 2^64 ns") }
                endTime = end
            }
        }
        return Call(pid: pid, timeNs: time, name: name, args: args, result: result, endTimeNs: endTime)
    }

    static let errno: [String: Int32] = [
        "EPERM": 1, "ENOENT": 2, "EINTR": 4, "EIO": 5, "EBADF": 9, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13, "EFAULT": 14, "EBUSY": 16,
        "ENODEV": 19, "EINVAL": 22, "ENOTTY": 25, "ENOSPC": 28, "ENOSYS": 38, "ENOMSG": 42, "EOPNOTSUPP": 95,
    ]

    /// Request numbers by the names strace prints (the recorder's table, reversed).
    static let requests: [String: UInt32] = {
        var out: [String: UInt32] = [:]
        for kind in [FdKind.vfioContainer, .vfioGroup, .vfioDevice, .migrationData, .kvmVM] {
            for r in UInt32(0x3B64)...UInt32(0x3B79) where !IoctlNames.name(request: r, target: kind).hasPrefix("0x") {
                out[IoctlNames.name(request: r, target: kind)] = r
            }
        }
        for r: UInt32 in [0xAE01, 0xAE41, 0xAE80, 0x4020_AE46, 0x40A0_AE49, 0x4020_AE76] { out[IoctlNames.name(request: r, target: .kvmVM)] = r }
        return out
    }()

    /// Turns calls into events with an fd table built from paths and results.
    struct Decoder {
        // One fd table for the whole log: strace -f prints thread ids, not thread groups, and a VMM's
        // threads share their fds. (Separate processes reusing fd numbers are not told apart.)
        var table: [Int32: (kind: FdKind, device: String)] = [:]
        /// Bytes of device names held in `table`.
        var tableBytes = 0

        /// Remembers (or, with nil, forgets) what `fd` is; refused past the table's bounds.
        mutating func track(_ fd: Int32, _ entry: (kind: FdKind, device: String)?) throws(LineRejection) {
            let old = table[fd]?.device.utf8.count ?? 0
            guard let entry else {
                if table.removeValue(forKey: fd) != nil { tableBytes -= old }
                return
            }
            guard table[fd] != nil || table.count < StraceImporter.maxTrackedFds else {
                throw LineRejection("more than \(StraceImporter.maxTrackedFds) fds to keep track of")
            }
            guard tableBytes - old + entry.device.utf8.count <= StraceImporter.maxTrackedBytes else {
                throw LineRejection("fd paths and device names would take more than \(StraceImporter.maxTrackedBytes) bytes")
            }
            table[fd] = entry
            tableBytes += entry.device.utf8.count - old
        }

        /// A call's result as the fd it returned.
        static func fd(_ c: Call) throws(LineRejection) -> Int32 {
            guard let fd = Int32(exactly: c.result) else { throw LineRejection("result \(c.result) of \(c.name) is not an fd") }
            return fd
        }

        /// A number that must fit in 32 bits.
        static func u32(_ v: UInt64, _ what: String) throws(LineRejection) -> UInt32 {
            guard let n = UInt32(exactly: v) else { throw LineRejection("\(what) \(v) does not fit in 32 bits") }
            return n
        }

        mutating func events(for c: Call) throws(LineRejection) -> [TraceEvent] {
            var out: [TraceEvent] = []
            func ev(_ p: EventPayload) {
                out.append(TraceEvent(time: c.timeNs, endTime: c.endTimeNs, pid: c.pid, tid: c.pid, result: c.result, payload: p))
            }
            func role(_ arg: String) throws(LineRejection) -> (fd: Int32, kind: FdKind, device: String) {
                guard let (fd, path) = try fdArg(arg) else { return (-1, .unknown, "") }
                if let known = table[fd] { return (fd, known.kind, known.device) }
                let kind = path.map { FdKind.classify(path: $0) } ?? .unknown
                return (fd, kind, kind == .vfioDevice ? (path ?? "") : "")
            }
            let ok = c.result >= 0
            switch c.name {
            case "openat", "open":
                guard let pathArg = c.args.first(where: { $0.hasPrefix("\"") }), let bytes = bytes(ofLiteral: pathArg), ok else { break }
                let path = String(decoding: bytes, as: UTF8.self)
                let kind = FdKind.classify(path: path)
                let fd = try Self.fd(c)
                try track(fd, kind == .unknown ? nil : (kind, kind == .vfioDevice ? path : ""))
                if kind != .unknown { ev(.fd(FdChange(operation: .open, fd: fd, kind: kind, path: path))) }
            case "close":
                let r = try role(c.args.first ?? "")
                if ok, r.fd >= 0 {
                    try track(r.fd, nil)
                    if r.kind != .unknown { ev(.fd(FdChange(operation: .close, fd: r.fd, kind: r.kind))) }
                }
            case "eventfd2", "eventfd":
                guard ok else { break }
                let fd = try Self.fd(c)
                try track(fd, (.eventfd, ""))
                let flags: UInt32 =
                    (c.args.count > 1 && c.args[1].contains("EFD_CLOEXEC") ? 0o2000000 : 0)
                    | (c.args.count > 1 && c.args[1].contains("EFD_NONBLOCK") ? 0o4000 : 0)
                ev(.eventfd(EventfdOp(operation: .create, fd: fd, value: try number(c.args.first ?? "") ?? 0, flags: flags)))
            case "read", "write":
                let r = try role(c.args.first ?? "")
                guard r.kind == .eventfd, c.result == 8, c.args.count > 1, let b = bytes(ofLiteral: c.args[1]), b.count >= 8 else { break }
                let value = b.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                ev(.eventfd(EventfdOp(operation: c.name == "read" ? .read : .write, fd: r.fd, value: value)))
            case "ioctl":
                guard c.args.count >= 2 else { break }
                let r = try role(c.args[0])
                var request = requests[c.args[1]]
                if c.args[1].hasPrefix("0x") {
                    guard let n = try number(c.args[1]) else { break }
                    request = try Self.u32(n, "ioctl request")
                }
                guard let request else { break }
                if request == 0x4020_AE46 || request == 0x40A0_AE49, c.args.count > 2 {
                    let s = c.args[2]
                    guard let slot = try field(s, "slot"), let gpa = try field(s, "guest_phys_addr"), let size = try field(s, "memory_size"),
                        let ua = try field(s, "userspace_addr")
                    else { break }
                    ev(
                        .memslot(
                            Memslot(
                                vmFd: r.fd, slot: try Self.u32(slot, "slot"), flags: try Self.u32(try field(s, "flags") ?? 0, "flags"),
                                guestPhys: gpa, size: size, userAddress: ua)))
                } else if request == 0x3B6A, r.kind == .vfioGroup || r.kind == .unknown, c.args.count > 2, let b = bytes(ofLiteral: c.args[2]) {
                    let name = String(decoding: b, as: UTF8.self)
                    let fd = ok ? try Self.fd(c) : -1
                    if ok { try track(fd, (.vfioDevice, name)) }
                    ev(.deviceOpen(DeviceOpen(fd: fd, groupFd: r.fd, device: name)))
                } else if IoctlNames.isVFIO(request) {
                    ev(.vfioIoctl(VFIOIoctl(fd: r.fd, target: r.kind, device: r.device, request: request)))
                }
            case "mmap":
                guard ok, c.args.count >= 6 else { break }
                let r = try role(c.args[4])
                guard r.kind == .vfioDevice, let length = try number(c.args[1]), let offset = try number(c.args[5]) else { break }
                // offset >> 40 is below 2^24: the region index always fits.
                ev(
                    .mapping(
                        MappingChange(
                            operation: .mmap, fd: r.fd, device: r.device, region: Int32(offset >> 40), regionOffset: offset & ((1 << 40) - 1),
                            address: 0, length: length, fileOffset: offset)))
            case "munmap":
                guard c.args.count >= 2, let a = try number(c.args[0]), let l = try number(c.args[1]) else { break }
                ev(.mapping(MappingChange(operation: .munmap, address: a, length: l)))
            case "pread64", "pwrite64":
                guard c.args.count >= 4 else { break }
                let r = try role(c.args[0])
                guard r.kind == .vfioDevice, let pos = try number(c.args[3]) else { break }
                var value: UInt64 = 0
                if let b = bytes(ofLiteral: c.args[1]) {
                    for (i, byte) in b.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
                }
                ev(
                    .regionAccess(
                        RegionAccess(
                            operation: c.name == "pread64" ? .read : .write, fd: r.fd, device: r.device, region: Int32(pos >> 40),
                            offset: pos & ((1 << 40) - 1), length: try number(c.args[2]) ?? 0, value: value)))
            default:
                break
            }
            return out
        }
    }
}
