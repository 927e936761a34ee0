// swift-tools-version: 6.1
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "vfiotrace",
    products: [
        .executable(name: "vfiotrace", targets: ["vfiotrace"]),
        .library(name: "TraceFormat", targets: ["TraceFormat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // The runtime of the committed Perfetto protobuf code (Scripts/perfetto-proto-regen.sh writes that code).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // libzstd from the system (Debian: libzstd-dev).
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // libbpf's headers from the system (Debian: libbpf-dev), for the eBPF recording backend. Not linked (no
        // pkg-config, whose flags would link it): the loader opens libbpf on first use (CBPFRecorder/libbpf_lazy.h),
        // so no other command loads it, nor libelf and libz behind it.
        .systemLibrary(
            name: "CLibbpf",
            providers: [.apt(["libbpf-dev"])]
        ),
        // The eBPF recorder's kernel side (bpf/vfiotrace.bpf.c, compiled by Scripts/bpf-regen.sh into the committed
        // vfiotrace.skel.h, never by SwiftPM) and a thin C loader over that skeleton.
        .target(
            name: "CBPFRecorder",
            dependencies: ["CLibbpf"],
            exclude: ["bpf"]
        ),
        // Thin C wrappers for what Swift cannot call directly (variadic ptrace/prctl/syscall,
        // wait-status macros, seccomp structs). No logic lives here.
        .target(name: "CSyscallShim"),
        // The CPU's CRC32C instruction behind a static inline wrapper (table fallback in Swift).
        .target(name: "CChecksum"),
        // The event model and the on-disk trace format.
        .target(
            name: "TraceFormat",
            dependencies: ["CZstd", "CChecksum"],
            swiftSettings: upcoming
        ),
        // ptrace/seccomp recorder: fd tracking, VFIO/KVM decoding, the writer thread.
        .target(
            name: "TraceRecorder",
            dependencies: ["TraceFormat", "CSyscallShim", "CBPFRecorder"],
            swiftSettings: upcoming
        ),
        // Offline analysis: device timelines, trap gaps, remap latency, findings, simulation.
        .target(
            name: "TraceAnalysis",
            dependencies: [
                "TraceFormat",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: upcoming + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // Reports (HTML, Markdown, JUnit, Perfetto, OpenMetrics) and importers (strace, QEMU trace, JSONL).
        .target(
            name: "TraceReports",
            dependencies: [
                "TraceFormat", "TraceAnalysis",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            // The Perfetto schema subset the committed .pb.swift is generated from (never compiled by SwiftPM).
            exclude: ["Formats/PerfettoTrace/vfiotrace_perfetto.proto"],
            swiftSettings: upcoming
        ),
        // The command-line layer only: one file per subcommand.
        .executableTarget(
            name: "vfiotrace",
            dependencies: [
                "TraceFormat", "TraceRecorder", "TraceAnalysis", "TraceReports",
                // Built alongside (not linked) so `swift run vfiotrace demo` finds the test VMM next to it.
                "vfio-testvmm",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcoming
        ),
        // A small VMM-like program driving an emulated migration-capable VFIO device (see Fixtures/TestVMM).
        .executableTarget(
            name: "vfio-testvmm",
            path: "Fixtures/TestVMM"
        ),
        // A real VFIO user for the guest rig (Scripts/vfio-guest.sh): drives QEMU's edu device through vfio-pci.
        .executableTarget(
            name: "vfio-client",
            path: "Fixtures/VFIOClient"
        ),
        // `swift run -c release vfiotrace-format-bench`: encode / decode throughput and bytes per event (BENCHMARKS.md).
        .executableTarget(
            name: "vfiotrace-format-bench",
            dependencies: ["TraceFormat"],
            path: "Benchmarks/FormatBenchmark",
            swiftSettings: upcoming
        ),
        // `Benchmarks/hostile-inputs.sh`: ~100k hostile inputs through every reader, each batch in a forked child
        // (crashes, hangs and peak memory counted).
        .executableTarget(
            name: "vfiotrace-fuzz",
            dependencies: ["TestSupport", "TraceFormat"],
            path: "Benchmarks/HostileInputs",
            swiftSettings: upcoming
        ),
        // Helpers shared by the test targets (where the built executables are; recorded calls as logs state them).
        .target(
            name: "TestSupport",
            dependencies: ["TraceFormat", "TraceAnalysis", "TraceReports"],
            path: "Tests/TestSupport",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "TraceFormatTests",
            dependencies: ["TraceFormat", "TestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "TraceRecorderTests",
            dependencies: ["TraceRecorder", "TraceFormat", "TestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "TraceAnalysisTests",
            dependencies: ["TraceAnalysis", "TraceFormat", "TestSupport", .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: upcoming
        ),
        // Real vfio-pci and Debian's QEMU in a throwaway guest (Scripts/vfio-guest.sh); skipped, saying why,
        // where the guest cannot run.
        .testTarget(
            name: "RealVFIOTests",
            dependencies: ["TraceFormat", "TestSupport"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "TraceReportsTests",
            dependencies: ["TraceReports", "TraceAnalysis", "TraceFormat", "TestSupport"],
            resources: [.copy("Golden")],
            swiftSettings: upcoming
        ),
    ]
)
