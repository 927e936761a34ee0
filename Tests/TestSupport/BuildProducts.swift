public import Foundation
public import TraceFormat

/// Where `swift build` put this package's executables (vfiotrace, vfio-testvmm, vfio-client), found from the test runner.
public enum BuildProducts {
    public static var directory: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("vfiotrace").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }

    public static func path(_ executable: String) -> String { directory.appendingPathComponent(executable).path }
}

/// The recorded calls in the form a traced program's own log states them, for comparing the two.
public enum RecordedCalls {
    /// Every VFIO ioctl as "NAME RESULT", in order (the calls with events of their own included).
    public static func vfioIoctls(_ events: [TraceEvent]) -> [String] {
        events.compactMap { e -> String? in
            switch e.payload {
            case .vfioIoctl(let io): return "\(IoctlNames.name(request: io.request, target: io.target)) \(e.result)"
            case .deviceOpen(let d) where d.groupFd >= 0: return "VFIO_GROUP_GET_DEVICE_FD \(e.result)"
            case .regionInfo: return "VFIO_DEVICE_GET_REGION_INFO \(e.result)"
            case .irqBinding: return "VFIO_DEVICE_SET_IRQS \(e.result)"
            default: return nil
            }
        }
    }
}
