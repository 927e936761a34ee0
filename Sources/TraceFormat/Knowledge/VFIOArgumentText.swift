/// Text form of a raw VFIO ioctl argument for dumps. Structured decoding by request lives with the
/// layouts; this fallback shows the bytes.
public enum VFIOArgumentText {
    public static func describe(_ ioctl: VFIOIoctl) -> String {
        let shown = ioctl.argument.prefix(64).map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined()
        return "<\(ioctl.argument.count) bytes: \(shown)\(ioctl.argument.count > 64 ? "..." : "")>"
    }
}
