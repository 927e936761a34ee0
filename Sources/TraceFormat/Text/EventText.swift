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
        var b = TextBuffer(capacity: 160)
        write(e, into: &b)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    /// Appends the line for `e` (without a newline) to `b`.
    public static func write(_ e: TraceEvent, into b: inout TextBuffer) {
        b.seconds(e.time)
        b.byte(0x20)
        b.decimal(e.pid)
        if e.pid != e.tid {
            b.byte(0x2F)
            b.decimal(e.tid)
        }
        b.byte(0x20)
        body(e, into: &b)
        // A crafted event may complete before it starts: its duration is shown negative, as it is.
        if e.endTime > e.time {
            b.append(" <")
            b.duration(e.endTime - e.time)
            b.byte(0x3E)
        } else if e.endTime < e.time {
            b.append(" <-")
            b.duration(e.time - e.endTime)
            b.byte(0x3E)
        }
    }

    private static func fd(_ fd: Int32, _ kind: FdKind, _ device: String = "", into b: inout TextBuffer) {
        b.decimal(fd)
        if kind == .unknown && device.isEmpty { return }
        b.byte(0x3C)
        if device.isEmpty { b.append(kind.name) } else { b.escaped(device) }
        b.byte(0x3E)
    }

    private static func result(_ e: TraceEvent, hex: Bool = false, into b: inout TextBuffer) {
        if let err = e.errno {
            b.append(" = -1 ")
            b.append(ErrnoNames.name(err))
            return
        }
        b.append(" = ")
        if hex { b.hex(UInt64(bitPattern: e.result)) } else { b.decimal(e.result) }
    }

    private static func region(_ index: Int32, into b: inout TextBuffer) {
        switch index {
        case 0...5:
            b.append("BAR")
            b.decimal(index)
        case 6: b.append("ROM")
        case 7: b.append("CONFIG")
        case 8: b.append("VGA")
        case -1: b.append("?")
        default:
            b.append("region")
            b.decimal(index)
        }
    }

    /// The call-and-result part of the line.
    static func body(_ e: TraceEvent, into b: inout TextBuffer) {
        switch e.payload {
        case .vfioIoctl(let p):
            b.append("ioctl(")
            fd(p.fd, p.target, p.device, into: &b)
            b.append(", ")
            b.append(IoctlNames.name(request: p.request, target: p.target))
            if !p.argument.isEmpty {
                b.append(", ")
                b.append(VFIOArgumentText.describe(p))
            }
            b.byte(0x29)
            result(e, into: &b)
        case .ioctl(let p):
            b.append("ioctl(")
            fd(p.fd, p.target, into: &b)
            b.append(", ")
            b.append(IoctlNames.name(request: p.request, target: p.target))
            b.append(", ")
            b.hex(p.argument)
            b.byte(0x29)
            result(e, into: &b)
        case .deviceOpen(let p):
            if p.groupFd >= 0 {
                b.append("ioctl(")
                b.decimal(p.groupFd)
                b.append("<vfio-group>, VFIO_GROUP_GET_DEVICE_FD, \"")
                b.escaped(p.device)
                b.append("\")")
                result(e, into: &b)
                b.append(" <device ")
                b.escaped(p.device)
                b.byte(0x3E)
            } else {
                b.append("open(\"")
                b.escaped(p.device)
                b.append("\")")
                result(e, into: &b)
                b.append(" <device cdev>")
            }
        case .regionInfo(let p):
            b.append("ioctl(")
            fd(p.fd, .vfioDevice, p.device, into: &b)
            b.append(", VFIO_DEVICE_GET_REGION_INFO, {index=")
            b.decimal(p.index)
            b.append(" (")
            region(Int32(truncatingIfNeeded: p.index), into: &b)
            b.append("), flags=")
            b.append(Hex.flags(p.flags, regionFlagNames))
            b.append(", size=")
            b.hex(p.size)
            b.append(", offset=")
            b.hex(p.offset)
            if let t = p.regionType {
                b.append(", type=")
                b.decimal(t.type)
                b.byte(0x2F)
                b.decimal(t.subtype)
                if t.isMigrationV1 { b.append(" (migration v1)") }
            }
            if let areas = p.sparseAreas {
                b.append(", sparse_mmap=[")
                for (i, a) in areas.enumerated() {
                    if i > 0 { b.append(", ") }
                    b.hex(a.offset)
                    b.byte(0x2B)
                    b.hex(a.size)
                }
                b.byte(0x5D)
            }
            b.append("})")
            result(e, into: &b)
        case .irqBinding(let p):
            b.append("ioctl(")
            fd(p.fd, .vfioDevice, p.device, into: &b)
            b.append(", VFIO_DEVICE_SET_IRQS, {index=")
            b.decimal(p.index)
            b.append(", start=")
            b.decimal(p.start)
            b.append(", count=")
            b.decimal(p.count)
            b.append(", flags=")
            b.append(Hex.flags(p.flags, irqFlagNames))
            if !p.eventfds.isEmpty {
                b.append(", eventfds=[")
                for (i, f) in p.eventfds.enumerated() {
                    if i > 0 { b.append(", ") }
                    b.decimal(f)
                }
                b.byte(0x5D)
            }
            b.append("})")
            result(e, into: &b)
        case .deviceState(let p):
            b.append("device_state(")
            fd(p.fd, .vfioDevice, p.device, into: &b)
            b.append(p.migrationProtocol == .v1 ? ", v1 region" : ", v2 feature")
            if p.operation == .get {
                b.append(" get) = ")
                b.append(MigrationStateNames.name(p.resulting, protocol: p.migrationProtocol))
                if e.failed { result(e, into: &b) }
            } else {
                b.append(" set ")
                b.append(MigrationStateNames.name(p.requested, protocol: p.migrationProtocol))
                if p.dataFd >= 0 {
                    b.append(", data_fd=")
                    b.decimal(p.dataFd)
                }
                b.byte(0x29)
                result(e, into: &b)
            }
        case .mapping(let p):
            switch p.operation {
            case .mmap:
                b.append("mmap(NULL, ")
                b.hex(p.length)
                b.append(", ")
                b.append(Hex.flags(p.prot, protNames))
                b.append(", ")
                b.append(Hex.flags(p.flags & ~MappingChange.adoptedAtAttach, mapNames))
                b.append(", ")
                fd(p.fd, p.device.isEmpty ? .unknown : .vfioDevice, p.device, into: &b)
                b.append(", ")
                b.hex(p.fileOffset)
                b.byte(0x29)
                result(e, hex: true, into: &b)
            case .munmap:
                b.append("munmap(")
                b.hex(p.address)
                b.append(", ")
                b.hex(p.length)
                b.byte(0x29)
                result(e, into: &b)
            case .mremap:
                b.append("mremap(")
                b.hex(p.address)
                b.append(", ")
                b.hex(p.length)
                b.append(", ")
                b.hex(p.newLength)
                b.byte(0x29)
                result(e, hex: true, into: &b)
            }
            if !p.device.isEmpty {
                b.append("  [")
                b.escaped(p.device)
                b.byte(0x20)
                region(p.region, into: &b)
                b.append(" +")
                b.hex(p.regionOffset)
                b.append(" len ")
                b.hex(p.operation == .mremap ? p.newLength : p.length)
                b.byte(0x5D)
            }
            if p.operation == .mmap && p.flags & MappingChange.adoptedAtAttach != 0 { b.append(" <existing at attach>") }
        case .memslot(let p):
            b.append("ioctl(")
            b.decimal(p.vmFd)
            b.append(p.isDelete ? "<kvm-vm>, KVM_SET_USER_MEMORY_REGION (delete), {slot=" : "<kvm-vm>, KVM_SET_USER_MEMORY_REGION, {slot=")
            b.decimal(p.slot)
            b.append(", flags=")
            b.decimal(p.flags & ~Memslot.existingAtAttach)
            b.append(", guest_phys_addr=")
            b.hex(p.guestPhys)
            b.append(", memory_size=")
            b.hex(p.size)
            b.append(", userspace_addr=")
            b.hex(p.userAddress)
            b.append("})")
            result(e, into: &b)
            if p.flags & Memslot.existingAtAttach != 0 { b.append(" <existing at attach>") }
        case .eventfd(let p):
            switch p.operation {
            case .create:
                b.append("eventfd2(")
                b.decimal(p.value)
                b.append(", ")
                b.append(Hex.flags(p.flags, efdNames))
                b.byte(0x29)
            case .read, .write:
                b.append(p.operation == .read ? "read(" : "write(")
                b.decimal(p.fd)
                b.append("<eventfd>, [")
                b.decimal(p.value)
                b.append("], 8)")
            }
            result(e, into: &b)
        case .irqfd(let p):
            b.append("ioctl(")
            b.decimal(p.vmFd)
            b.append("<kvm-vm>, KVM_IRQFD, {fd=")
            b.decimal(p.fd)
            b.append(", gsi=")
            b.decimal(p.gsi)
            b.append(", flags=")
            b.decimal(p.flags)
            if p.resampleFd >= 0 {
                b.append(", resamplefd=")
                b.decimal(p.resampleFd)
            }
            b.append("})")
            result(e, into: &b)
        case .regionAccess(let p):
            b.append(p.operation == .read ? "pread64(" : "pwrite64(")
            fd(p.fd, .vfioDevice, p.device, into: &b)
            b.append(", ")
            region(p.region, into: &b)
            b.byte(0x2B)
            b.hex(p.offset)
            b.append(", ")
            b.decimal(p.length)
            b.append(", value=")
            b.hex(p.value)
            b.byte(0x29)
            result(e, into: &b)
        case .fd(let p):
            switch p.operation {
            case .open:
                b.append("open(\"")
                b.escaped(p.path)
                b.append("\")")
                result(e, into: &b)
                b.append(" <")
                b.append(p.kind.name)
                b.byte(0x3E)
            case .close:
                b.append("close(")
                fd(p.fd, p.kind, into: &b)
                b.byte(0x29)
                result(e, into: &b)
            case .dup:
                b.append("dup(")
                b.decimal(p.sourceFd)
                b.byte(0x29)
                result(e, into: &b)
                b.append(" <")
                b.append(p.kind.name)
                b.byte(0x3E)
            }
        case .process(let p):
            switch p.operation {
            case .attach: b.append("+++ attached to ")
            case .spawn: b.append("+++ spawned ")
            case .threadStart: b.append("+++ new thread ")
            case .fork: b.append("+++ forked ")
            case .exec: b.append("execve(\"")
            case .exit, .detach, .signal: break
            }
            switch p.operation {
            case .attach, .threadStart, .fork:
                b.decimal(p.target)
                b.append(" +++")
            case .spawn:
                b.decimal(p.target)
                b.append(": ")
                b.escaped(p.command)
                b.append(" +++")
            case .exec:
                b.escaped(p.command)
                b.append("\")")
                result(e, into: &b)
            case .exit:
                b.append("+++ ")
                b.decimal(p.target)
                b.append(" exited with status ")
                b.decimal(p.status)
                b.append(" +++")
            case .detach:
                b.append("+++ detached from ")
                b.decimal(p.target)
                b.append(" +++")
            case .signal:
                b.append("--- signal ")
                b.decimal(p.status)
                b.append(" to ")
                b.decimal(p.target)
                b.append(" ---")
            }
        case .marker(let p):
            b.append("marker ")
            b.escaped(p.source)
            b.byte(0x3A)
            b.escaped(p.name)
            if !p.device.isEmpty {
                b.append(" device=")
                b.escaped(p.device)
            }
            for f in p.fields {
                b.byte(0x20)
                b.escaped(f.key)
                b.byte(0x3D)
                b.escaped(f.value)
            }
        case .lost(let p):
            b.append("<lost ")
            b.decimal(p.count)
            b.append(" events between ")
            b.seconds(p.fromNs)
            b.append(" and ")
            b.seconds(p.toNs)
            b.byte(0x3E)
        }
    }
}
