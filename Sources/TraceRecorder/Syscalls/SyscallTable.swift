/// Syscall numbers of one architecture for the calls in `Syscall` (values from the kernel's
/// unistd tables; the x86_64 ones are checked against the installed headers in tests).
package struct SyscallTable: Sendable {
    package let architecture: String
    /// AUDIT_ARCH_* value seccomp filters must check before trusting a syscall number.
    package let auditArch: UInt32
    private let numbers: [Syscall: Int]
    private let byNumber: [Int: Syscall]

    init(architecture: String, auditArch: UInt32, numbers: [Syscall: Int]) {
        self.architecture = architecture
        self.auditArch = auditArch
        self.numbers = numbers
        var inverse: [Int: Syscall] = [:]
        for (k, v) in numbers { inverse[v] = k }
        self.byNumber = inverse
    }

    package func number(of syscall: Syscall) -> Int? { numbers[syscall] }
    package func syscall(for number: Int) -> Syscall? { byNumber[number] }

    package static let x86_64 = SyscallTable(
        architecture: "x86_64", auditArch: 0xC000_003E,
        numbers: [
            .read: 0, .write: 1, .open: 2, .close: 3, .mmap: 9, .munmap: 11, .ioctl: 16, .pread64: 17, .pwrite64: 18,
            .readv: 19, .writev: 20, .mremap: 25, .dup: 32, .dup2: 33, .clone: 56, .fork: 57, .vfork: 58, .execve: 59,
            .exit: 60, .fcntl: 72, .exitGroup: 231, .openat: 257, .eventfd: 284, .eventfd2: 290, .dup3: 292,
            .preadv: 295, .pwritev: 296, .execveat: 322, .preadv2: 327, .pwritev2: 328, .clone3: 435, .closeRange: 436,
        ])

    /// aarch64 uses the generic table: no open, dup2, eventfd, fork or vfork.
    package static let aarch64 = SyscallTable(
        architecture: "aarch64", auditArch: 0xC000_00B7,
        numbers: [
            .eventfd2: 19, .dup: 23, .dup3: 24, .fcntl: 25, .ioctl: 29, .openat: 56, .close: 57, .read: 63, .write: 64,
            .readv: 65, .writev: 66, .pread64: 67, .pwrite64: 68, .preadv: 69, .pwritev: 70, .exit: 93, .exitGroup: 94,
            .munmap: 215, .mremap: 216, .clone: 220, .execve: 221, .mmap: 222, .execveat: 281, .preadv2: 286,
            .pwritev2: 287, .clone3: 435, .closeRange: 436,
        ])

    /// The table of the machine we run on.
    package static var native: SyscallTable {
        #if arch(x86_64)
            return .x86_64
        #elseif arch(arm64)
            return .aarch64
        #else
            #error("vfiotrace's recorder supports x86_64 and aarch64")
        #endif
    }
}
