/// KVM_SET_USER_MEMORY_REGION(2) on a VM fd. `size == 0` deletes the slot.
public struct Memslot: Sendable, Hashable {
    public var vmFd: Int32
    /// Slot id including the address-space id in bits 16+ (as KVM receives it).
    public var slot: UInt32
    /// KVM's flags (`KVM_MEM_LOG_DIRTY_PAGES` 1, `KVM_MEM_READONLY` 2, `KVM_MEM_GUEST_MEMFD` 4); `existingAtAttach` marks
    /// a slot the recorder found in KVM's tables when it attached, not a syscall.
    public var flags: UInt32
    /// Set in `flags` (a bit KVM never uses) on memslots that existed before an attach (the recorder's memslot snapshot, read by a BPF iterator).
    public static let existingAtAttach: UInt32 = 0x8000_0000
    public var guestPhys: UInt64
    public var size: UInt64
    public var userAddress: UInt64

    public init(vmFd: Int32, slot: UInt32, flags: UInt32 = 0, guestPhys: UInt64, size: UInt64, userAddress: UInt64) {
        self.vmFd = vmFd
        self.slot = slot
        self.flags = flags
        self.guestPhys = guestPhys
        self.size = size
        self.userAddress = userAddress
    }

    public var isDelete: Bool { size == 0 }
}
