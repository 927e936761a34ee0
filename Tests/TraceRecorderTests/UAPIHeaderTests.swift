import Foundation
import Testing

@testable import TraceRecorder

/// The constants and offsets the decoder relies on, checked against the kernel headers installed on
/// this machine by compiling a small C program at test time.
@Suite(.serialized) struct UAPIHeaderTests {
    @Test("ioctl numbers, flags and struct offsets match <linux/vfio.h> and <linux/kvm.h>")
    func matchesHeaders() throws {
        guard FileManager.default.fileExists(atPath: "/usr/include/linux/vfio.h"), FileManager.default.isExecutableFile(atPath: "/usr/bin/cc") else {
            print("skipping: no cc or no kernel headers")
            return
        }
        let dir = NSTemporaryDirectory() + "vfiotrace-uapi-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = """
            #include <stdio.h>
            #include <stddef.h>
            #include <linux/vfio.h>
            #include <linux/kvm.h>
            #define P(name, v) printf("%s %llu\\n", name, (unsigned long long)(v))
            int main(void) {
              P("GROUP_GET_DEVICE_FD", VFIO_GROUP_GET_DEVICE_FD); P("DEVICE_GET_REGION_INFO", VFIO_DEVICE_GET_REGION_INFO);
              P("DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS); P("DEVICE_FEATURE", VFIO_DEVICE_FEATURE); P("DEVICE_RESET", VFIO_DEVICE_RESET);
              P("MIG_GET_PRECOPY_INFO", _IO(VFIO_TYPE, VFIO_BASE + 21));
              P("KVM_CREATE_VM", KVM_CREATE_VM); P("KVM_RUN", KVM_RUN); P("KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION);
              P("KVM_SET_USER_MEMORY_REGION2", _IOW(KVMIO, 0x49, char[160])); P("KVM_IRQFD", KVM_IRQFD); P("KVM_CREATE_VCPU", KVM_CREATE_VCPU);
              P("region_info.size", offsetof(struct vfio_region_info, size)); P("region_info.offset", offsetof(struct vfio_region_info, offset));
              P("region_info.cap_offset", offsetof(struct vfio_region_info, cap_offset)); P("sizeof.region_info", sizeof(struct vfio_region_info));
              P("sparse.nr_areas", offsetof(struct vfio_region_info_cap_sparse_mmap, nr_areas));
              P("sparse.areas", offsetof(struct vfio_region_info_cap_sparse_mmap, areas));
              P("type.type", offsetof(struct vfio_region_info_cap_type, type));
              P("irq_set.data", offsetof(struct vfio_irq_set, data)); P("IRQ_SET_DATA_EVENTFD", VFIO_IRQ_SET_DATA_EVENTFD);
              P("FEATURE_SET", VFIO_DEVICE_FEATURE_SET); P("FEATURE_MIG_DEVICE_STATE", VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
              P("mig_state.data_fd", offsetof(struct vfio_device_feature_mig_state, data_fd) + offsetof(struct vfio_device_feature, data));
              P("mem.userspace_addr", offsetof(struct kvm_userspace_memory_region, userspace_addr));
              P("sizeof.mem", sizeof(struct kvm_userspace_memory_region)); P("irqfd.resamplefd", offsetof(struct kvm_irqfd, resamplefd));
              P("CAP_SPARSE_MMAP", VFIO_REGION_INFO_CAP_SPARSE_MMAP); P("CAP_TYPE", VFIO_REGION_INFO_CAP_TYPE);
              return 0;
            }
            """
        try source.write(toFile: dir + "/uapi.c", atomically: true, encoding: .utf8)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        cc.arguments = ["-o", dir + "/uapi", dir + "/uapi.c"]
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0)
        let run = Process()
        run.executableURL = URL(fileURLWithPath: dir + "/uapi")
        let pipe = Pipe()
        run.standardOutput = pipe
        try run.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        var v: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            v[String(parts[0])] = UInt64(parts[1])
        }
        #expect(v["GROUP_GET_DEVICE_FD"] == UInt64(VFIOLayout.groupGetDeviceFd))
        #expect(v["DEVICE_GET_REGION_INFO"] == UInt64(VFIOLayout.deviceGetRegionInfo))
        #expect(v["DEVICE_SET_IRQS"] == UInt64(VFIOLayout.deviceSetIrqs))
        #expect(v["DEVICE_FEATURE"] == UInt64(VFIOLayout.deviceFeature))
        #expect(v["DEVICE_RESET"] == UInt64(VFIOLayout.deviceReset))
        #expect(v["MIG_GET_PRECOPY_INFO"] == UInt64(VFIOLayout.migGetPrecopyInfo))
        #expect(v["KVM_CREATE_VM"] == UInt64(VFIOLayout.kvmCreateVM))
        #expect(v["KVM_RUN"] == UInt64(VFIOLayout.kvmRun))
        #expect(v["KVM_SET_USER_MEMORY_REGION"] == UInt64(VFIOLayout.kvmSetUserMemoryRegion))
        #expect(v["KVM_SET_USER_MEMORY_REGION2"] == UInt64(VFIOLayout.kvmSetUserMemoryRegion2))
        #expect(v["KVM_IRQFD"] == UInt64(VFIOLayout.kvmIrqfd))
        #expect(v["KVM_CREATE_VCPU"] == UInt64(VFIOLayout.kvmCreateVCPU))
        #expect(v["region_info.size"] == 16 && v["region_info.offset"] == 24 && v["region_info.cap_offset"] == 12)
        #expect(v["sizeof.region_info"] == UInt64(VFIOLayout.regionInfoSize))
        #expect(v["sparse.nr_areas"] == 8 && v["sparse.areas"] == 16 && v["type.type"] == 8)
        #expect(v["irq_set.data"] == UInt64(VFIOLayout.irqSetHeaderSize))
        #expect(v["IRQ_SET_DATA_EVENTFD"] == UInt64(VFIOLayout.irqSetDataEventfd))
        #expect(v["FEATURE_SET"] == UInt64(VFIOLayout.featureSet))
        #expect(v["FEATURE_MIG_DEVICE_STATE"] == UInt64(VFIOLayout.featureMigDeviceState))
        #expect(v["mig_state.data_fd"] == 12)
        #expect(v["mem.userspace_addr"] == 24 && v["sizeof.mem"] == UInt64(VFIOLayout.memoryRegionSize))
        #expect(v["irqfd.resamplefd"] == 12)
        #expect(v["CAP_SPARSE_MMAP"] == UInt64(VFIOLayout.capSparseMmap) && v["CAP_TYPE"] == UInt64(VFIOLayout.capType))
    }

    @Test("x86_64 syscall numbers match <asm/unistd_64.h>")
    func syscallNumbers() throws {
        guard let text = try? String(contentsOfFile: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", encoding: .utf8) else {
            print("skipping: no asm/unistd_64.h")
            return
        }
        var numbers: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("#define __NR_") {
            let parts = line.split(separator: " ")
            if parts.count == 3, let n = Int(parts[2]) { numbers[String(parts[1].dropFirst(5))] = n }
        }
        for s in Syscall.allCases {
            #expect(SyscallTable.x86_64.number(of: s) == numbers[s.rawValue], "\(s.rawValue)")
        }
    }
}
