import Testing
import TraceFormat

@testable import TraceRecorder

/// What the recorder reads back from /proc and sysfs when it attaches after the VMM set its devices up.
@Suite struct AttachedStateTests {
    // /proc/PID/maps lines as Linux prints them (the first two from Debian's QEMU with a vfio-pci device).
    static let maps = """
        7f23dc100000-7f23dc200000 rw-s 00000000 00:0e 1045                       anon_inode:[vfio-device]
        7f23dc300000-7f23dc301000 r--s 70000000000 00:0e 1045                    anon_inode:[vfio-device]
        7f23dc400000-7f23dc600000 rw-p 00000000 00:00 0
        7f23dc600000-7f23dc700000 r-xp 00001000 fe:01 131422                     /usr/lib/x86_64-linux-gnu/libc.so.6
        7f23dc800000-7f23dc810000 rw-s 20000000000 00:0f 77                      /dev/vfio/devices/vfio0
        garbage
        """

    @Test("device mappings are picked out of /proc/PID/maps with range, file offset, protection and inode")
    func deviceMappings() {
        let m = AttachedState.deviceMappings(maps: Self.maps)
        #expect(
            m == [
                .init(user: 0x7f23_dc10_0000..<0x7f23_dc20_0000, fileOffset: 0, prot: 3, inode: 1045),
                .init(user: 0x7f23_dc30_0000..<0x7f23_dc30_1000, fileOffset: 0x700_0000_0000, prot: 1, inode: 1045),
                .init(user: 0x7f23_dc80_0000..<0x7f23_dc81_0000, fileOffset: 0x200_0000_0000, prot: 3, inode: 77),
            ])
    }

    @Test("fdinfo's vfio-device-syspath names a device; without it, the only device of the open groups names the only device fd")
    func names() {
        let fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1045\nvfio-device-syspath: /sys/devices/pci0000:00/0000:00:1e.0\n"
        #expect(AttachedState.syspathName(fdinfo: fdinfo) == "0000:00:1e.0")
        #expect(AttachedState.syspathName(fdinfo: "pos:\t0\n") == nil)

        let fds: [(fd: Int32, target: String)] = [(10, "/dev/vfio/3"), (11, "/dev/vfio/vfio"), (12, "anon_inode:[vfio-device]")]
        let groups = ["3": ["0000:00:03.0"], "4": ["0000:00:04.0", "0000:00:04.1"]]
        #expect(AttachedState.deviceNames(fds: fds, fdinfo: { _ in nil }, groupDevices: { groups[$0] ?? [] }) == [12: "0000:00:03.0"])
        // Two devices in the open groups and one unnamed fd: ambiguous, left unnamed.
        let two = fds + [(13, "/dev/vfio/4")]
        #expect(AttachedState.deviceNames(fds: two, fdinfo: { _ in nil }, groupDevices: { groups[$0] ?? [] }) == [:])
        // fdinfo wins, and what it names is not offered to another fd.
        let both = fds + [(14, "anon_inode:[vfio-device]")]
        let named = AttachedState.deviceNames(
            fds: both, fdinfo: { $0 == 14 ? "vfio-device-syspath: /sys/devices/pci0000:00/0000:00:03.0\n" : nil },
            groupDevices: { groups[$0] ?? [] })
        #expect(named == [14: "0000:00:03.0"])
    }

    @Test("maps shows a BAR mapping's physical address (vfio-pci's vm_pgoff); sysfs resource turns it back into the region offset")
    func regionOffsets() {
        // /sys/bus/pci/devices/0000:00:03.0/resource of QEMU's edu in the guest rig, plus a BAR2 for the test.
        let resource = """
            0x00000000fea00000 0x00000000feafffff 0x0000000000040200
            0x0000000000000000 0x0000000000000000 0x0000000000000000
            0x00000000fd000000 0x00000000fd00ffff 0x0000000000140204
            0x0000000000000000 0x0000000000000000 0x0000000000000000
            """
        #expect(AttachedState.regionFileOffset(mapsOffset: 0xFEA0_0000, resource: resource) == 0)
        #expect(AttachedState.regionFileOffset(mapsOffset: 0xFEA0_1000, resource: resource) == 0x1000)
        #expect(AttachedState.regionFileOffset(mapsOffset: 0xFD00_2000, resource: resource) == 2 << 40 | 0x2000)
        #expect(AttachedState.regionFileOffset(mapsOffset: 0, resource: resource) == nil, "unused BARs are all zeros")
        #expect(AttachedState.regionFileOffset(mapsOffset: 0xFEB0_0000, resource: resource) == nil)
    }

    @Test("a mapping belongs to the device fd with its inode, or to the only device fd")
    func owner() {
        let m = AttachedState.Mapping(user: 0..<4096, fileOffset: 0, prot: 3, inode: 77)
        #expect(AttachedState.owner(of: m, deviceFds: [(5, 1045), (6, 77)]) == 6)
        #expect(AttachedState.owner(of: m, deviceFds: [(5, 1045)]) == 5)
        #expect(AttachedState.owner(of: m, deviceFds: [(5, 1045), (7, 1045)]) == nil)
    }

    @Test("adopted mappings are decoded onto their device and region, and marked as found at attach")
    func adopt() {
        let decoder = SyscallDecoder()
        _ = decoder.adoptOpenFds(pid: 9, fds: [(12, "anon_inode:[vfio-device]")], deviceNames: [12: "0000:00:03.0"])
        let change = decoder.adoptMapping(pid: 9, fd: 12, user: 0x7000_0000..<0x7010_0000, fileOffset: 0x200_0000_1000, prot: 3)
        #expect(change?.device == "0000:00:03.0" && change?.region == 2 && change?.regionOffset == 0x1000 && change?.length == 0x10_0000)
        #expect((change?.flags ?? 0) & MappingChange.adoptedAtAttach != 0)
        #expect(decoder.adoptMapping(pid: 9, fd: 13, user: 0..<4096, fileOffset: 0, prot: 3) == nil, "fd 13 is not a device fd")
    }
}
