/// Request numbers, flag values and struct offsets of the VFIO and KVM uapi (include/uapi/linux/vfio.h,
/// kvm.h), in one place. Tests compile a C program against the installed headers and compare.
package enum VFIOLayout {
    // VFIO requests: _IO(';', 100 + n).
    package static let getAPIVersion: UInt32 = 0x3B64
    package static let checkExtension: UInt32 = 0x3B65
    package static let setIOMMU: UInt32 = 0x3B66
    package static let groupGetStatus: UInt32 = 0x3B67
    package static let groupSetContainer: UInt32 = 0x3B68
    package static let groupUnsetContainer: UInt32 = 0x3B69
    package static let groupGetDeviceFd: UInt32 = 0x3B6A
    package static let deviceGetInfo: UInt32 = 0x3B6B
    package static let deviceGetRegionInfo: UInt32 = 0x3B6C
    package static let deviceGetIrqInfo: UInt32 = 0x3B6D
    package static let deviceSetIrqs: UInt32 = 0x3B6E
    package static let deviceReset: UInt32 = 0x3B6F
    package static let deviceFeature: UInt32 = 0x3B75
    package static let migGetPrecopyInfo: UInt32 = 0x3B79

    // KVM requests.
    package static let kvmCreateVM: UInt32 = 0xAE01
    package static let kvmCreateVCPU: UInt32 = 0xAE41
    package static let kvmRun: UInt32 = 0xAE80
    package static let kvmSetUserMemoryRegion: UInt32 = 0x4020_AE46
    package static let kvmSetUserMemoryRegion2: UInt32 = 0x40A0_AE49
    package static let kvmIrqfd: UInt32 = 0x4020_AE76

    // struct vfio_region_info (32 bytes): argsz 0, flags 4, index 8, cap_offset 12, size 16, offset 24.
    package static let regionInfoSize = 32
    package static let regionInfoFlagCaps: UInt32 = 8
    // struct vfio_info_cap_header: id u16 0, version u16 2, next u32 4.
    package static let capSparseMmap: UInt16 = 1
    package static let capType: UInt16 = 2
    // struct vfio_irq_set (20-byte header): argsz, flags, index 8, start 12, count 16, data 20.
    package static let irqSetHeaderSize = 20
    package static let irqSetDataEventfd: UInt32 = 4
    // struct vfio_device_feature: argsz, flags 4 (feature id in the low 16 bits), data 8.
    package static let featureGet: UInt32 = 1 << 16
    package static let featureSet: UInt32 = 1 << 17
    package static let featureProbe: UInt32 = 1 << 18
    package static let featureMigDeviceState: UInt32 = 2
    // struct kvm_userspace_memory_region: slot 0, flags 4, guest_phys_addr 8, memory_size 16, userspace_addr 24.
    package static let memoryRegionSize = 32
    // struct kvm_irqfd: fd 0, gsi 4, flags 8, resamplefd 12.
    package static let irqfdSize = 32

    /// vfio-pci encodes the region index in file offsets as index << 40.
    package static let pciOffsetShift: UInt64 = 40

    /// Largest argument buffer the recorder copies out of a tracee for one call.
    package static let maxArgumentBytes = 4096
}
