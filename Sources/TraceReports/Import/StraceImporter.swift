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
        var durationNs: UInt64
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

    /// "5<anon_inode:[eventfd]>" -> (5, "anon_inode:[eventfd]").
    static func fdArg(_ s: String) -> (fd: Int32, path: String?)? {
        let digits = s.prefix { $0.isNumber || $0 == "-" }
        guard let fd = Int32(digits) else { return nil }
        let rest = s.dropFirst(digits.count)
        if rest.hasPrefix("<") && rest.hasSuffix(">") { return (fd, String(rest.dropFirst().dropLast())) }
        return (fd, nil)
    }

    static func number(_ s: String) -> UInt64? {
        let t = s.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
        return UInt64(t.prefix { $0.isNumber })
    }

    /// Field `key=value` of a decoded struct argument.
    static func field(_ s: String, _ key: String) -> UInt64? {
        guard let r = s.range(of: key + "=") else { return nil }
        return number(String(s[r.upperBound...].prefix { $0 != "," && $0 != "}" }))
    }

    /// Reads `input`, writes `output`; returns the number of events.
    @discardableResult
    public func run(input: String, output: String) throws -> Int {
        guard let data = FileManager.default.contents(atPath: input) else {
            throw ImportProblem(path: input, line: 0, message: "cannot read the file")
        }
        var pending: [Int32: (time: UInt64, name: String, head: String)] = [:]
        var calls: [Call] = []
        for (i, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var s = Substring(raw.trimmingCharacters(in: .whitespaces))
            if s.isEmpty { continue }
            func problem(_ m: String) throws {
                let p = ImportProblem(path: input, line: i + 1, message: m)
                if strict { throw p }
                warn(p)
            }
            // [pid N] or N as the first token (with -f), then the -ttt stamp.
            var pid: Int32 = 0
            if s.hasPrefix("[pid") { s = s.dropFirst(4).drop { $0 == " " } }
            let first = s.prefix { $0 != " " && $0 != "]" }
            if !first.contains("."), let p = Int32(first) {
                pid = p
                s = s.dropFirst(first.count).drop { $0 == " " || $0 == "]" }
            }
            let stamp = s.prefix { $0 != " " }
            guard let dot = stamp.firstIndex(of: "."), let sec = UInt64(stamp[..<dot]), let frac = UInt64(stamp[stamp.index(after: dot)...]) else {
                try problem("no -ttt timestamp (run strace with -ttt)")
                continue
            }
            let fracDigits = stamp.distance(from: stamp.index(after: dot), to: stamp.endIndex)
            var time = sec * 1_000_000_000 + frac * UInt64(pow(10, Double(max(0, 9 - fracDigits))))
            var body = String(s.dropFirst(stamp.count).drop { $0 == " " })
            if body.hasPrefix("+++") || body.hasPrefix("---") { continue }
            var name: String
            if body.hasPrefix("<... ") {
                guard let end = body.range(of: " resumed>") else { try problem("malformed resumed line"); continue }
                name = String(body[body.index(body.startIndex, offsetBy: 5)..<end.lowerBound])
                guard let p = pending.removeValue(forKey: pid), p.name == name else { continue }  // resumed without its start: skip
                time = p.time
                body = name + "(" + p.head + body[end.upperBound...]
            }
            guard let open = body.firstIndex(of: "(") else { try problem("not a syscall line"); continue }
            name = String(body[..<open])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { try problem("not a syscall line"); continue }
            if let u = body.range(of: " <unfinished ...>") {
                pending[pid] = (time, name, String(body[body.index(after: open)..<u.lowerBound]))
                continue
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
            guard let closeParen, let tailStart, closeParen > open else {
                try problem("no result")
                continue
            }
            let args = Self.splitArgs(body[body.index(after: open)..<closeParen])
            let tail = body[tailStart...]
            let resultText = tail.prefix { $0 != " " && $0 != "<" }
            var result: Int64 =
                resultText.hasPrefix("0x") ? Int64(bitPattern: UInt64(resultText.dropFirst(2), radix: 16) ?? 0) : Int64(resultText) ?? 0
            if result == -1, let errName = tail.split(separator: " ").dropFirst().first, let e = Self.errno[String(errName)] { result = -Int64(e) }
            var duration: UInt64 = 0
            if let lt = tail.lastIndex(of: "<"), tail.hasSuffix(">"), let d = Double(tail[tail.index(after: lt)..<tail.index(before: tail.endIndex)])
            {
                duration = UInt64((d * 1e9).rounded())
            }
            calls.append(Call(pid: pid, timeNs: time, name: name, args: args, result: result, durationNs: duration))
        }
        return try Self.writeTrace(
            Self.decode(calls), to: output, format: "strace", input: input, clock: ClockSample(monotonicNs: 0, realtimeNs: 0),
            pids: Array(Set(calls.map(\.pid))).sorted())
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

    /// Turns calls into events with a per-process fd table built from paths and results.
    static func decode(_ calls: [Call]) -> [TraceEvent] {
        // One fd table for the whole log: strace -f prints thread ids, not thread groups, and a VMM's
        // threads share their fds. (Separate processes reusing fd numbers are not told apart.)
        var table: [Int32: (kind: FdKind, device: String)] = [:]
        var out: [TraceEvent] = []
        for c in calls {
            func ev(_ p: EventPayload) {
                out.append(TraceEvent(time: c.timeNs, endTime: c.timeNs + c.durationNs, pid: c.pid, tid: c.pid, result: c.result, payload: p))
            }
            func role(_ arg: String) -> (fd: Int32, kind: FdKind, device: String) {
                guard let (fd, path) = fdArg(arg) else { return (-1, .unknown, "") }
                if let known = table[fd] { return (fd, known.kind, known.device) }
                let kind = path.map { FdKind.classify(path: $0) } ?? .unknown
                return (fd, kind, kind == .vfioDevice ? (path ?? "") : "")
            }
            let ok = c.result >= 0
            switch c.name {
            case "openat", "open":
                guard let pathArg = c.args.first(where: { $0.hasPrefix("\"") }), let bytes = bytes(ofLiteral: pathArg), ok else { continue }
                let path = String(decoding: bytes, as: UTF8.self)
                let kind = FdKind.classify(path: path)
                let fd = Int32(truncatingIfNeeded: c.result)
                table[fd] = kind == .unknown ? nil : (kind, kind == .vfioDevice ? path : "")
                if kind != .unknown { ev(.fd(FdChange(operation: .open, fd: fd, kind: kind, path: path))) }
            case "close":
                let r = role(c.args.first ?? "")
                if ok, r.fd >= 0 {
                    table[r.fd] = nil
                    if r.kind != .unknown { ev(.fd(FdChange(operation: .close, fd: r.fd, kind: r.kind))) }
                }
            case "eventfd2", "eventfd":
                guard ok else { continue }
                let fd = Int32(truncatingIfNeeded: c.result)
                table[fd] = (.eventfd, "")
                let flags: UInt32 =
                    (c.args.count > 1 && c.args[1].contains("EFD_CLOEXEC") ? 0o2000000 : 0)
                    | (c.args.count > 1 && c.args[1].contains("EFD_NONBLOCK") ? 0o4000 : 0)
                ev(.eventfd(EventfdOp(operation: .create, fd: fd, value: number(c.args.first ?? "") ?? 0, flags: flags)))
            case "read", "write":
                let r = role(c.args.first ?? "")
                guard r.kind == .eventfd, c.result == 8, c.args.count > 1, let b = bytes(ofLiteral: c.args[1]), b.count >= 8 else { continue }
                let value = b.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                ev(.eventfd(EventfdOp(operation: c.name == "read" ? .read : .write, fd: r.fd, value: value)))
            case "ioctl":
                guard c.args.count >= 2 else { continue }
                let r = role(c.args[0])
                let request = c.args[1].hasPrefix("0x") ? UInt32(c.args[1].dropFirst(2), radix: 16) : requests[c.args[1]]
                guard let request else { continue }
                if request == 0x4020_AE46 || request == 0x40A0_AE49, c.args.count > 2 {
                    let s = c.args[2]
                    guard let slot = field(s, "slot"), let gpa = field(s, "guest_phys_addr"), let size = field(s, "memory_size"),
                        let ua = field(s, "userspace_addr")
                    else { continue }
                    ev(
                        .memslot(
                            Memslot(
                                vmFd: r.fd, slot: UInt32(truncatingIfNeeded: slot), flags: UInt32(truncatingIfNeeded: field(s, "flags") ?? 0),
                                guestPhys: gpa, size: size, userAddress: ua)))
                } else if request == 0x3B6A, r.kind == .vfioGroup || r.kind == .unknown, c.args.count > 2, let b = bytes(ofLiteral: c.args[2]) {
                    let name = String(decoding: b, as: UTF8.self)
                    if ok { table[Int32(truncatingIfNeeded: c.result)] = (.vfioDevice, name) }
                    ev(.deviceOpen(DeviceOpen(fd: ok ? Int32(truncatingIfNeeded: c.result) : -1, groupFd: r.fd, device: name)))
                } else if IoctlNames.isVFIO(request) {
                    ev(.vfioIoctl(VFIOIoctl(fd: r.fd, target: r.kind, device: r.device, request: request)))
                }
            case "mmap":
                guard ok, c.args.count >= 6 else { continue }
                let r = role(c.args[4])
                guard r.kind == .vfioDevice, let length = number(c.args[1]), let offset = number(c.args[5]) else { continue }
                ev(
                    .mapping(
                        MappingChange(
                            operation: .mmap, fd: r.fd, device: r.device, region: Int32(offset >> 40), regionOffset: offset & ((1 << 40) - 1),
                            address: 0, length: length, fileOffset: offset)))
            case "munmap":
                guard c.args.count >= 2, let a = number(c.args[0]), let l = number(c.args[1]) else { continue }
                ev(.mapping(MappingChange(operation: .munmap, address: a, length: l)))
            case "pread64", "pwrite64":
                guard c.args.count >= 4 else { continue }
                let r = role(c.args[0])
                guard r.kind == .vfioDevice, let pos = number(c.args[3]) else { continue }
                var value: UInt64 = 0
                if let b = bytes(ofLiteral: c.args[1]) {
                    for (i, byte) in b.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
                }
                ev(
                    .regionAccess(
                        RegionAccess(
                            operation: c.name == "pread64" ? .read : .write, fd: r.fd, device: r.device, region: Int32(pos >> 40),
                            offset: pos & ((1 << 40) - 1), length: number(c.args[2]) ?? 0, value: value)))
            default:
                continue
            }
        }
        return out
    }
}
