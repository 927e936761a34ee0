/// The system calls the recorder decodes, independent of architecture.
package enum Syscall: String, CaseIterable, Sendable {
    case read, write, open, openat, close, closeRange = "close_range"
    case dup, dup2, dup3, fcntl, ioctl
    case mmap, munmap, mremap
    case eventfd, eventfd2
    case pread64, pwrite64, readv, writev, preadv, pwritev, preadv2, pwritev2
    case clone, clone3, fork, vfork, execve, execveat, exit, exitGroup = "exit_group"
}
