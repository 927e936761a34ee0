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
        var cache = RenderCache(.terminal)
        LineScratch().write(into: &b) { write(OwnedEventFields(e), &cache, into: &$0) }
    }

    /// Appends the line for the event `f` reads (without a newline) to `b`: owned events and views alike.
    @inline(__always)
    static func write<F: EventFieldSource>(_ f: F, _ cache: inout RenderCache, into b: inout ByteCursor) {
        let h = f.header
        b.seconds(h.time)
        b.byte(0x20)
        b.decimal(h.pid)
        if h.pid != h.tid {
            b.byte(0x2F)
            b.decimal(h.tid)
        }
        b.byte(0x20)
        body(f, h, &cache, into: &b)
        // A crafted event may complete before it starts: its duration is shown negative, as it is.
        if h.endTime > h.time {
            b.append(" <")
            b.duration(h.endTime - h.time)
            b.byte(0x3E)
        } else if h.endTime < h.time {
            b.append(" <-")
            b.duration(h.time - h.endTime)
            b.byte(0x3E)
        }
    }

    /// `fd<what>`: the device (string field `device`) if the event names one, else the fd's role if known.
    @inline(__always)
    private static func fd<F: EventFieldSource>(
        _ fd: Int32, _ kind: FdKind, device: Int? = nil, of f: F, _ cache: inout RenderCache, into b: inout ByteCursor
    ) {
        b.decimal(fd)
        let named = device.map { !f.stringIsEmpty($0, &cache.strings) } ?? false
        if kind == .unknown && !named { return }
        b.byte(0x3C)
        if let device, named { f.writeString(device, &cache.strings, into: &b) } else { cache.write(kind, into: &b) }
        b.byte(0x3E)
    }

    @inline(__always)
    private static func result(_ h: EventHeader, hex: Bool = false, into b: inout ByteCursor) {
        if let err = h.errno {
            b.append(" = -1 ")
            b.append(ErrnoNames.name(err))
            return
        }
        b.append(" = ")
        if hex { b.hex(UInt64(bitPattern: h.result)) } else { b.decimal(h.result) }
    }

    private static func region(_ index: Int32, into b: inout ByteCursor) {
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

    /// The call-and-result part of the line. Fields are numbered as `ColumnSchema` (and `EventView.payload`) number
    /// them: each case lists its kind's.
    @inline(__always)
    static func body<F: EventFieldSource>(_ f: F, _ h: EventHeader, _ cache: inout RenderCache, into b: inout ByteCursor) {
        switch f.kind {
        case .vfioIoctl:
            // fd, target, device, request, argument length
            let target = f.choice(1, FdKind.unknown)
            let request = f.uint32(3)
            b.append("ioctl(")
            fd(f.int32(0), target, device: 2, of: f, &cache, into: &b)
            b.append(", ")
            cache.writeIoctlName(request: request, target: target, into: &b)
            let argument = f.argumentBytes()
            if !argument.isEmpty {
                b.append(", ")
                b.append(VFIOArgumentText.describe(VFIOIoctl(fd: f.int32(0), target: target, device: "", request: request, argument: argument)))
            }
            b.byte(0x29)
            result(h, into: &b)
        case .ioctl:
            // fd, target, request, argument
            let target = f.choice(1, FdKind.unknown)
            b.append("ioctl(")
            fd(f.int32(0), target, of: f, &cache, into: &b)
            b.append(", ")
            cache.writeIoctlName(request: f.uint32(2), target: target, into: &b)
            b.append(", ")
            b.hex(f.field(3))
            b.byte(0x29)
            result(h, into: &b)
        case .deviceOpen:
            // fd, groupFd, device
            let groupFd = f.int32(1)
            if groupFd >= 0 {
                b.append("ioctl(")
                b.decimal(groupFd)
                b.append("<vfio-group>, VFIO_GROUP_GET_DEVICE_FD, \"")
                f.writeString(2, &cache.strings, into: &b)
                b.append("\")")
                result(h, into: &b)
                b.append(" <device ")
                f.writeString(2, &cache.strings, into: &b)
                b.byte(0x3E)
            } else {
                b.append("open(\"")
                f.writeString(2, &cache.strings, into: &b)
                b.append("\")")
                result(h, into: &b)
                b.append(" <device cdev>")
            }
        case .regionInfo:
            // fd, device, index, flags, size, offset, has type, type, subtype, areas + 1
            let index = f.uint32(2)
            b.append("ioctl(")
            fd(f.int32(0), .vfioDevice, device: 1, of: f, &cache, into: &b)
            b.append(", VFIO_DEVICE_GET_REGION_INFO, {index=")
            b.decimal(index)
            b.append(" (")
            region(Int32(truncatingIfNeeded: index), into: &b)
            b.append("), flags=")
            b.append(Hex.flags(f.uint32(3), regionFlagNames))
            b.append(", size=")
            b.hex(f.field(4))
            b.append(", offset=")
            b.hex(f.field(5))
            if f.field(6) != 0 {
                b.append(", type=")
                b.decimal(f.uint32(7))
                b.byte(0x2F)
                b.decimal(f.uint32(8))
                if RegionInfo.RegionType(type: f.uint32(7), subtype: f.uint32(8)).isMigrationV1 { b.append(" (migration v1)") }
            }
            if let areas = f.sparseAreaList() {
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
            result(h, into: &b)
        case .irqBinding:
            // fd, device, index, start, count, flags, eventfd count
            b.append("ioctl(")
            fd(f.int32(0), .vfioDevice, device: 1, of: f, &cache, into: &b)
            b.append(", VFIO_DEVICE_SET_IRQS, {index=")
            b.decimal(f.uint32(2))
            b.append(", start=")
            b.decimal(f.uint32(3))
            b.append(", count=")
            b.decimal(f.uint32(4))
            b.append(", flags=")
            b.append(Hex.flags(f.uint32(5), irqFlagNames))
            let eventfds = f.eventfdList()
            if !eventfds.isEmpty {
                b.append(", eventfds=[")
                for (i, x) in eventfds.enumerated() {
                    if i > 0 { b.append(", ") }
                    b.decimal(x)
                }
                b.byte(0x5D)
            }
            b.append("})")
            result(h, into: &b)
        case .deviceState:
            // fd, device, protocol, operation, requested, resulting, dataFd
            let proto = f.choice(2, DeviceStateChange.MigrationProtocol.v2)
            b.append("device_state(")
            fd(f.int32(0), .vfioDevice, device: 1, of: f, &cache, into: &b)
            b.append(proto == .v1 ? ", v1 region" : ", v2 feature")
            if f.choice(3, DeviceStateChange.Operation.get) == .get {
                b.append(" get) = ")
                b.append(MigrationStateNames.name(f.uint32(5), protocol: proto))
                if h.failed { result(h, into: &b) }
            } else {
                b.append(" set ")
                b.append(MigrationStateNames.name(f.uint32(4), protocol: proto))
                let dataFd = f.int32(6)
                if dataFd >= 0 {
                    b.append(", data_fd=")
                    b.decimal(dataFd)
                }
                b.byte(0x29)
                result(h, into: &b)
            }
        case .mapping:
            // operation, fd, device, region, regionOffset, address, length, newAddress, newLength, prot, flags, fileOffset
            let operation = f.choice(0, MappingChange.Operation.mmap)
            let flags = f.uint32(10)
            let named = !f.stringIsEmpty(2, &cache.strings)
            switch operation {
            case .mmap:
                b.append("mmap(NULL, ")
                b.hex(f.field(6))
                b.append(", ")
                b.append(Hex.flags(f.uint32(9), protNames))
                b.append(", ")
                b.append(Hex.flags(flags & ~MappingChange.adoptedAtAttach, mapNames))
                b.append(", ")
                fd(f.int32(1), named ? .vfioDevice : .unknown, device: 2, of: f, &cache, into: &b)
                b.append(", ")
                b.hex(f.field(11))
                b.byte(0x29)
                result(h, hex: true, into: &b)
            case .munmap:
                b.append("munmap(")
                b.hex(f.field(5))
                b.append(", ")
                b.hex(f.field(6))
                b.byte(0x29)
                result(h, into: &b)
            case .mremap:
                b.append("mremap(")
                b.hex(f.field(5))
                b.append(", ")
                b.hex(f.field(6))
                b.append(", ")
                b.hex(f.field(8))
                b.byte(0x29)
                result(h, hex: true, into: &b)
            }
            if named {
                b.append("  [")
                f.writeString(2, &cache.strings, into: &b)
                b.byte(0x20)
                region(f.int32(3), into: &b)
                b.append(" +")
                b.hex(f.field(4))
                b.append(" len ")
                b.hex(operation == .mremap ? f.field(8) : f.field(6))
                b.byte(0x5D)
            }
            if operation == .mmap && flags & MappingChange.adoptedAtAttach != 0 { b.append(" <existing at attach>") }
        case .memslot:
            // vmFd, slot, flags, guestPhys, size, userAddress
            let flags = f.uint32(2)
            b.append("ioctl(")
            b.decimal(f.int32(0))
            b.append(
                f.field(4) == 0  // Memslot.isDelete: size 0
                    ? "<kvm-vm>, KVM_SET_USER_MEMORY_REGION (delete), {slot=" : "<kvm-vm>, KVM_SET_USER_MEMORY_REGION, {slot=")
            b.decimal(f.uint32(1))
            b.append(", flags=")
            b.decimal(flags & ~Memslot.existingAtAttach)
            b.append(", guest_phys_addr=")
            b.hex(f.field(3))
            b.append(", memory_size=")
            b.hex(f.field(4))
            b.append(", userspace_addr=")
            b.hex(f.field(5))
            b.append("})")
            result(h, into: &b)
            if flags & Memslot.existingAtAttach != 0 { b.append(" <existing at attach>") }
        case .eventfd:
            // operation, fd, value, flags
            let operation = f.choice(0, EventfdOp.Operation.read)
            switch operation {
            case .create:
                b.append("eventfd2(")
                b.decimal(f.field(2))
                b.append(", ")
                b.append(Hex.flags(f.uint32(3), efdNames))
                b.byte(0x29)
            case .read, .write:
                b.append(operation == .read ? "read(" : "write(")
                b.decimal(f.int32(1))
                b.append("<eventfd>, [")
                b.decimal(f.field(2))
                b.append("], 8)")
            }
            result(h, into: &b)
        case .irqfd:
            // vmFd, fd, gsi, flags, resampleFd
            b.append("ioctl(")
            b.decimal(f.int32(0))
            b.append("<kvm-vm>, KVM_IRQFD, {fd=")
            b.decimal(f.int32(1))
            b.append(", gsi=")
            b.decimal(f.uint32(2))
            b.append(", flags=")
            b.decimal(f.uint32(3))
            let resampleFd = f.int32(4)
            if resampleFd >= 0 {
                b.append(", resamplefd=")
                b.decimal(resampleFd)
            }
            b.append("})")
            result(h, into: &b)
        case .regionAccess:
            // operation, fd, device, region, offset, length, value
            b.append(f.choice(0, RegionAccess.Operation.read) == .read ? "pread64(" : "pwrite64(")
            fd(f.int32(1), .vfioDevice, device: 2, of: f, &cache, into: &b)
            b.append(", ")
            region(f.int32(3), into: &b)
            b.byte(0x2B)
            b.hex(f.field(4))
            b.append(", ")
            b.decimal(f.field(5))
            b.append(", value=")
            b.hex(f.field(6))
            b.byte(0x29)
            result(h, into: &b)
        case .fd:
            // operation, fd, sourceFd, kind, path
            let kind = f.choice(3, FdKind.unknown)
            switch f.choice(0, FdChange.Operation.open) {
            case .open:
                b.append("open(\"")
                f.writeString(4, &cache.strings, into: &b)
                b.append("\")")
                result(h, into: &b)
                b.append(" <")
                cache.write(kind, into: &b)
                b.byte(0x3E)
            case .close:
                b.append("close(")
                fd(f.int32(1), kind, of: f, &cache, into: &b)
                b.byte(0x29)
                result(h, into: &b)
            case .dup:
                b.append("dup(")
                b.decimal(f.int32(2))
                b.byte(0x29)
                result(h, into: &b)
                b.append(" <")
                cache.write(kind, into: &b)
                b.byte(0x3E)
            }
        case .process:
            // operation, target, status, command
            let operation = f.choice(0, ProcessChange.Operation.exit)
            let target = f.int32(1)
            switch operation {
            case .attach: b.append("+++ attached to ")
            case .spawn: b.append("+++ spawned ")
            case .threadStart: b.append("+++ new thread ")
            case .fork: b.append("+++ forked ")
            case .exec: b.append("execve(\"")
            case .exit, .detach, .signal: break
            }
            switch operation {
            case .attach, .threadStart, .fork:
                b.decimal(target)
                b.append(" +++")
            case .spawn:
                b.decimal(target)
                b.append(": ")
                f.writeString(3, &cache.strings, into: &b)
                b.append(" +++")
            case .exec:
                f.writeString(3, &cache.strings, into: &b)
                b.append("\")")
                result(h, into: &b)
            case .exit:
                b.append("+++ ")
                b.decimal(target)
                b.append(" exited with status ")
                b.decimal(f.int32(2))
                b.append(" +++")
            case .detach:
                b.append("+++ detached from ")
                b.decimal(target)
                b.append(" +++")
            case .signal:
                b.append("--- signal ")
                b.decimal(f.int32(2))
                b.append(" to ")
                b.decimal(target)
                b.append(" ---")
            }
        case .marker:
            // source, name, device, field count
            b.append("marker ")
            f.writeString(0, &cache.strings, into: &b)
            b.byte(0x3A)
            f.writeString(1, &cache.strings, into: &b)
            if !f.stringIsEmpty(2, &cache.strings) {
                b.append(" device=")
                f.writeString(2, &cache.strings, into: &b)
            }
            for x in f.markerFieldList() {
                b.byte(0x20)
                cache.strings.escape(x.key, into: &b)
                b.byte(0x3D)
                cache.strings.escape(x.value, into: &b)
            }
        case .lost:
            // count, fromNs, toNs
            b.append("<lost ")
            b.decimal(f.field(0))
            b.append(" events between ")
            b.seconds(f.field(1))
            b.append(" and ")
            b.seconds(f.field(2))
            b.byte(0x3E)
        }
    }
}
