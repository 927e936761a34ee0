import CBPFRecorder
package import TraceFormat

/// The KVM memslots the traced processes' VMs had when the recorder attached, read from KVM's own tables by the
/// program's `iter/task_file` iterator (no syscall tells them: `/proc` shows a VM fd, not its slots). Parsed from the
/// iterator's output, which is checked like any record from the kernel: sizes, kinds, counts and pids.
package struct MemslotSnapshot: Equatable {
    /// Per process: its VMs' live slots, in the iterator's order (by VM fd, then KVM's hash order).
    package var slots: [Int32: [Memslot]] = [:]
    /// Per process: how many VM fds were walked.
    package var vms: [Int32: Int] = [:]
    /// Processes whose snapshot is not whole, and why (`torn`: KVM changed its slots during every walk;
    /// `truncated`: a VM with more than `VFT_SNAP_MAX_SLOTS` slots).
    package var incomplete: [Int32: String] = [:]
    /// Records that did not parse (never expected from the program).
    package var malformed = 0

    package init() {}

    static let recordSize = MemoryLayout<vft_memslot>.size

    /// Parses the iterator's output: `VFT_SNAP_SLOT` records, each VM's closed by a `VFT_SNAP_VM` whose count must
    /// match; only processes in `pids`. A VM walked while KVM changed its slots (`VFT_SNAP_TORN`) is left out and its
    /// process marked torn.
    package init(_ bytes: UnsafeRawBufferPointer, pids: Set<Int32>) {
        var pending: [Memslot] = []
        var offset = 0
        while offset + Self.recordSize <= bytes.count {
            let r = bytes.loadUnaligned(fromByteOffset: offset, as: vft_memslot.self)
            offset += Self.recordSize
            let pid = Int32(bitPattern: r.tgid)
            guard pids.contains(pid) else {
                malformed += 1
                pending.removeAll()
                continue
            }
            switch r.kind {
            case UInt32(VFT_SNAP_SLOT.rawValue):
                // KVM's bounds: npages < 2^(64-12) pages; a slot's id is 15 bits and its address space a few.
                guard r.size > 0, r.size % 4096 == 0, r.gpa % 4096 == 0, r.gpa <= UInt64.max - r.size,
                    r.slot & 0xFFFF <= 0x7FFF, r.slot >> 16 < 16, r.vm_fd >= 0, pending.count < Int(VFT_SNAP_MAX_SLOTS)
                else {
                    malformed += 1
                    continue
                }
                pending.append(
                    Memslot(
                        vmFd: r.vm_fd, slot: r.slot, flags: r.flags & ~Memslot.existingAtAttach, guestPhys: r.gpa, size: r.size,
                        userAddress: r.ua))
            case UInt32(VFT_SNAP_VM.rawValue):
                defer { pending.removeAll() }
                let count = Int(r.status & 0xFFFF)
                let forThisVM = pending.filter { $0.vmFd == r.vm_fd }
                guard count == pending.count, forThisVM.count == count else {
                    malformed += 1
                    incomplete[pid] = incomplete[pid] ?? "malformed"
                    continue
                }
                vms[pid, default: 0] += 1
                if r.status & VFT_SNAP_TORN != 0 {
                    incomplete[pid] = "torn"
                    continue
                }
                if r.status & VFT_SNAP_TRUNCATED != 0 { incomplete[pid] = "truncated" }
                slots[pid, default: []] += pending
            default:
                malformed += 1
            }
        }
        if offset != bytes.count || !pending.isEmpty { malformed += 1 }
        // A torn VM's process keeps the slots of its other VMs but is not whole.
        for pid in incomplete.keys where slots[pid] == nil { slots[pid] = [] }
    }

    /// Whether some VM was walked while KVM changed its slots (worth another walk).
    var torn: Bool { incomplete.values.contains("torn") }

    /// What the recorder writes for process `pid` at `time` (no later than the walk): each slot as a memslot event
    /// flagged `existingAtAttach`, then a `kvm.memslot_snapshot` marker saying the snapshot was taken and whether it
    /// is whole.
    package func events(pid: Int32, time: UInt64) -> [TraceEvent] {
        let mine = slots[pid] ?? []
        var out = mine.map { slot in
            var slot = slot
            slot.flags |= Memslot.existingAtAttach
            return TraceEvent(time: time, pid: pid, tid: pid, payload: .memslot(slot))
        }
        var fields: [Marker.Field] = [.init("vms", "\(vms[pid] ?? 0)"), .init("slots", "\(mine.count)")]
        if let why = incomplete[pid] { fields.append(.init("incomplete", why)) }
        out.append(TraceEvent(time: time, pid: pid, tid: pid, payload: .marker(Marker(source: "kvm", name: "kvm.memslot_snapshot", fields: fields))))
        return out
    }
}

extension BPFProgram {
    /// The memslot iterator alone, loaded for `pids` (the ptrace recorder's attach: loaded before it seizes anything,
    /// run once it has, so the VMM is never held while libbpf and the verifier work).
    package static func memslotIterator(pids: [Int32]) throws(BPFUnavailable) -> BPFProgram {
        var settings = Settings()
        settings.snapshotOnly = true
        settings.ringBytes = 4096
        let program = try BPFProgram(settings)
        for pid in pids {
            let rc = program.addProcess(pid)
            guard rc == 0 else { throw BPFUnavailable("cannot add process \(pid) to the memslot iterator's set: \(ErrnoNames.name(-rc))") }
        }
        return program
    }

    /// Runs the memslot iterator (loaded with `Settings.memslotSnapshot`) over the traced processes `pids`, walking
    /// again, up to three times in all, while KVM changed some VM's slots during the walk. Nil with the reason when
    /// the iterator cannot run.
    package func memslotSnapshot(pids: Set<Int32>) -> Result<MemslotSnapshot, BPFUnavailable> {
        // Room for 16 VMs of VFT_SNAP_MAX_SLOTS slots each, plus their closing records.
        let capacity = 16 * (Int(VFT_SNAP_MAX_SLOTS) + 1) * MemslotSnapshot.recordSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        var snapshot = MemslotSnapshot()
        for _ in 0..<3 {
            let n = runMemslotIterator(buffer)
            guard n >= 0 else { return .failure(BPFUnavailable("the memslot iterator failed: \(ErrnoNames.name(-n))")) }
            snapshot = MemslotSnapshot(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(n)]), pids: pids)
            if !snapshot.torn { break }
        }
        return .success(snapshot)
    }
}
