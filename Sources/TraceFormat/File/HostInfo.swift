#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// Kernel release, architecture and page size of the machine we run on.
public struct HostInfo: Sendable {
    public var kernelRelease: String
    public var architecture: String
    public var pageSize: UInt32

    public static func current() -> HostInfo {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return HostInfo(kernelRelease: field(u.release), architecture: field(u.machine), pageSize: UInt32(sysconf(Int32(_SC_PAGESIZE))))
    }
}
