/// Renders an event as one strace-like line: `TIME PID/TID call(args) = result <duration>`.
public enum EventText {
    private static let protNames: [(UInt32, String)] = [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")]
    private static let mapNames: [(UInt32, String)] = [(1, "MAP_SHARED"), (2, "MAP_PRIVATE"), (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS")]
    private static let regionFlagNames: [(UInt32, String)] = [(1, "READ"), (2, "WRITE"), (4, "MMAP"), (8, "CAPS")]
    private static let irqFlagNames: [(UInt32, String)] = [
        (1, "DATA_NONE"), (2, "DATA_BOOL"), (4, "DATA_EVENTFD"), (8, "ACTION_MASK"), (0x10, "ACTION_UNMASK"), (0x20, "ACTION_TRIGGER"),
    ]
    private static let efdNames: [(UInt32, String)] = [(0o2000000, "EFD_CLOEXEC"), (0o4000, "EFD_NONBLOCK"), (1, "EFD_SEMAPHORE")]

    /// The full line for `event`, safe for a terminal: whatever strings the trace holds (device names,
    /// paths, commands, marker fields) cannot forge a line or send an escape sequence.
    public static func line(_ e: TraceEvent) -> String {
        var s = Hex.seconds(e.time) + " " + (e.pid == e.tid ? "\(e.pid)" : "\(e.pid)/\(e.tid)") + " " + body(e)
        // A crafted event may complete before it starts: its duration is shown negative, as it is.
        if e.endTime > e.time { s += " <" + Hex.duration(e.endTime - e.time) + ">" }
        if e.endTime < e.time { s += " <-" + Hex.duration(e.time - e.endTime) + ">" }
        return TerminalText.escaped(s)
    }

    private static func fd(_ fd: Int32, _ kind: FdKind, _ device: String = "") -> String {
        if kind == .unknown && device.isEmpty { return "\(fd)" }
        return "\(fd)<" + (device.isEmpty ? kind.name : device) + ">"
    }

    private static func result(_ e: TraceEvent, hex: Bool = false) -> String {
        if let err = e.errno { return " = -1 " + ErrnoNames.name(err) }
        return " = " + (hex ? Hex.of(UInt64(bitPattern: e.result)) : "\(e.result)")
    }

    private static func region(_ index: Int32) -> String {
        switch index {
        case 0...5: "BAR\(index)"
        case 6: "ROM"
        case 7: "CONFIG"
        case 8: "VGA"
        case -1: "?"
        default: "region\(index)"
        }
    }

    /// The call-and-result part of the line.
    public static func body(_ e: TraceEvent) -> String {
        switch e.payload {
        case .vfioIoctl(let p):
            let args = p.argument.isEmpty ? "" : ", " + VFIOArgumentText.describe(p)
            return "ioctl(" + fd(p.fd, p.target, p.device) + ", " + IoctlNames.name(request: p.request, target: p.target) + args + ")" + result(e)
        case .ioctl(let p):
            return "ioctl(" + fd(p.fd, p.target) + ", " + IoctlNames.name(request: p.request, target: p.target) + ", " + Hex.of(p.argument) + ")"
                + result(e)
        case .deviceOpen(let p):
            if p.groupFd >= 0 {
                return "ioctl(\(p.groupFd)<vfio-group>, VFIO_GROUP_GET_DEVICE_FD, \"\(p.device)\")" + result(e) + " <device \(p.device)>"
            }
            return "open(\"\(p.device)\")" + result(e) + " <device cdev>"
        case .regionInfo(let p):
            var s = "ioctl(" + fd(p.fd, .vfioDevice, p.device) + ", VFIO_DEVICE_GET_REGION_INFO, {index=\(p.index) (" + region(Int32(truncatingIfNeeded: p.index))
            s += "), flags=" + Hex.flags(p.flags, regionFlagNames) + ", size=" + Hex.of(p.size) + ", offset=" + Hex.of(p.offset)
            if let t = p.regionType { s += ", type=\(t.type)/\(t.subtype)" + (t.isMigrationV1 ? " (migration v1)" : "") }
            if let areas = p.sparseAreas {
                s += ", sparse_mmap=[" + areas.map { Hex.of($0.offset) + "+" + Hex.of($0.size) }.joined(separator: ", ") + "]"
            }
            return s + "})" + result(e)
        case .irqBinding(let p):
            var s =
                "ioctl(" + fd(p.fd, .vfioDevice, p.device) + ", VFIO_DEVICE_SET_IRQS, {index=\(p.index), start=\(p.start), count=\(p.count), flags="
            s += Hex.flags(p.flags, irqFlagNames)
            if !p.eventfds.isEmpty { s += ", eventfds=[" + p.eventfds.map(String.init).joined(separator: ", ") + "]" }
            return s + "})" + result(e)
        case .deviceState(let p):
            let how = p.migrationProtocol == .v1 ? "v1 region" : "v2 feature"
            if p.operation == .get {
                return "device_state(" + fd(p.fd, .vfioDevice, p.device) + ", \(how) get) = "
                    + MigrationStateNames.name(p.resulting, protocol: p.migrationProtocol)
                    + (e.failed ? result(e) : "")
            }
            var s =
                "device_state(" + fd(p.fd, .vfioDevice, p.device) + ", \(how) set "
                + MigrationStateNames.name(p.requested, protocol: p.migrationProtocol)
            if p.dataFd >= 0 { s += ", data_fd=\(p.dataFd)" }
            return s + ")" + result(e)
        case .mapping(let p):
            let target =
                p.device.isEmpty
                ? ""
                : "  [\(p.device) " + region(p.region) + " +" + Hex.of(p.regionOffset) + " len "
                    + Hex.of(p.operation == .mremap ? p.newLength : p.length) + "]"
            switch p.operation {
            case .mmap:
                let adopted = p.flags & MappingChange.adoptedAtAttach != 0
                return "mmap(NULL, " + Hex.of(p.length) + ", " + Hex.flags(p.prot, protNames) + ", "
                    + Hex.flags(p.flags & ~MappingChange.adoptedAtAttach, mapNames) + ", "
                    + fd(p.fd, p.device.isEmpty ? .unknown : .vfioDevice, p.device) + ", " + Hex.of(p.fileOffset) + ")" + result(e, hex: true)
                    + target + (adopted ? " <existing at attach>" : "")
            case .munmap:
                return "munmap(" + Hex.of(p.address) + ", " + Hex.of(p.length) + ")" + result(e) + target
            case .mremap:
                return "mremap(" + Hex.of(p.address) + ", " + Hex.of(p.length) + ", " + Hex.of(p.newLength) + ")" + result(e, hex: true) + target
            }
        case .memslot(let p):
            let what = p.isDelete ? "KVM_SET_USER_MEMORY_REGION (delete)" : "KVM_SET_USER_MEMORY_REGION"
            return "ioctl(\(p.vmFd)<kvm-vm>, \(what), {slot=\(p.slot), flags=\(p.flags), guest_phys_addr=" + Hex.of(p.guestPhys)
                + ", memory_size=" + Hex.of(p.size) + ", userspace_addr=" + Hex.of(p.userAddress) + "})" + result(e)
        case .eventfd(let p):
            switch p.operation {
            case .create: return "eventfd2(\(p.value), " + Hex.flags(p.flags, efdNames) + ")" + result(e)
            case .read: return "read(\(p.fd)<eventfd>, [\(p.value)], 8)" + result(e)
            case .write: return "write(\(p.fd)<eventfd>, [\(p.value)], 8)" + result(e)
            }
        case .irqfd(let p):
            var s = "ioctl(\(p.vmFd)<kvm-vm>, KVM_IRQFD, {fd=\(p.fd), gsi=\(p.gsi), flags=\(p.flags)"
            if p.resampleFd >= 0 { s += ", resamplefd=\(p.resampleFd)" }
            return s + "})" + result(e)
        case .regionAccess(let p):
            let call = p.operation == .read ? "pread64" : "pwrite64"
            return call + "(" + fd(p.fd, .vfioDevice, p.device) + ", " + region(p.region) + "+" + Hex.of(p.offset) + ", \(p.length), value="
                + Hex.of(p.value) + ")" + result(e)
        case .fd(let p):
            switch p.operation {
            case .open: return "open(\"\(p.path)\")" + result(e) + " <\(p.kind.name)>"
            case .close: return "close(" + fd(p.fd, p.kind) + ")" + result(e)
            case .dup: return "dup(\(p.sourceFd))" + result(e) + " <\(p.kind.name)>"
            }
        case .process(let p):
            switch p.operation {
            case .attach: return "+++ attached to \(p.target) +++"
            case .spawn: return "+++ spawned \(p.target): \(p.command) +++"
            case .threadStart: return "+++ new thread \(p.target) +++"
            case .fork: return "+++ forked \(p.target) +++"
            case .exec: return "execve(\"\(p.command)\")" + result(e)
            case .exit: return "+++ \(p.target) exited with status \(p.status) +++"
            case .detach: return "+++ detached from \(p.target) +++"
            case .signal: return "--- signal \(p.status) to \(p.target) ---"
            }
        case .marker(let p):
            var s = "marker \(p.source):\(p.name)"
            if !p.device.isEmpty { s += " device=\(p.device)" }
            for f in p.fields { s += " \(f.key)=\(f.value)" }
            return s
        case .lost(let p):
            return "<lost \(p.count) events between " + Hex.seconds(p.fromNs) + " and " + Hex.seconds(p.toNs) + ">"
        }
    }
}
