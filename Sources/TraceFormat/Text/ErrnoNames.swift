/// Symbolic errno names for the values VFIO/KVM calls commonly return.
public enum ErrnoNames {
    private static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM",
        13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 24: "EMFILE", 25: "ENOTTY",
        28: "ENOSPC", 32: "EPIPE", 34: "ERANGE", 38: "ENOSYS", 42: "ENOMSG", 95: "EOPNOTSUPP", 110: "ETIMEDOUT",
    ]
    public static func name(_ errno: Int32) -> String { names[errno] ?? "errno \(errno)" }
}
