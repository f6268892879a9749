// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "swarmprobe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "swarmprobe", targets: ["swarmprobe"]),
        // The agent alone, for production nodes (what `swarmprobe agent` runs).
        .executable(name: "swarmprobe-agent", targets: ["swarmprobe-agent"]),
        // For the libFuzzer package in Fuzz/, which builds against these.
        .library(name: "SwarmProbeCore", targets: ["SwarmProbeCore"]),
        .library(name: "SwarmProbeCapture", targets: ["SwarmProbeCapture"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Pure model: inventory, profile, checks, evidence, the verdict function,
        // wire messages and their authentication. No networking, no C.
        .target(
            name: "SwarmProbeCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "SwarmProbeAgent",
            dependencies: [
                "SwarmProbeCore",
                "SwarmProbeCapture",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SwarmProbeCoordinator",
            dependencies: [
                "SwarmProbeCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SwarmProbeReport",
            dependencies: ["SwarmProbeCore"]
        ),
        // AWS: security groups and network ACLs read with the AWS CLI (or saved JSON), evaluated per check.
        .target(
            name: "SwarmProbeAWS",
            dependencies: ["SwarmProbeCore"]
        ),
        .target(
            name: "SwarmProbeLab",
            dependencies: ["SwarmProbeCore"]
        ),
        // libpcap, through pkg-config (Debian: libpcap-dev). Only SwarmProbeCapture imports it.
        .systemLibrary(
            name: "CPcap",
            path: "Sources/CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // Packet capture: one owner of each pcap_t, a capture thread, the dissector, offline reading.
        .target(
            name: "SwarmProbeCapture",
            dependencies: [
                "CPcap",
                "SwarmProbeCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "SwarmProbeCommands",
            dependencies: [
                "SwarmProbeCore",
                "SwarmProbeAgent",
                "SwarmProbeAgentCLI",
                "SwarmProbeCoordinator",
                "SwarmProbeReport",
                "SwarmProbeLab",
                "SwarmProbeAWS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SwarmProbeAgentCLI",
            dependencies: [
                "SwarmProbeAgent", "SwarmProbeCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "swarmprobe-agent",
            dependencies: ["SwarmProbeAgentCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // The Swift driver links executables with --export-dynamic, which nothing in the agent needs (it
            // loads no plugins, and nothing looks its symbols up): without it the dynamic symbol table shrinks
            // from 1.7 MB to 20 KB and a fresh agent's resident set by 1.8 MiB (BENCHMARKS.md). (A crash
            // backtrace without the toolchain's swift-backtrace helper, which reads the symbol table, names
            // fewer frames.)
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]
        ),
        .executableTarget(
            name: "swarmprobe",
            dependencies: ["SwarmProbeCommands"]
        ),
        .testTarget(
            name: "SwarmProbeCoreTests",
            dependencies: ["SwarmProbeCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SwarmProbeCaptureTests",
            dependencies: [
                "SwarmProbeCapture",
                "SwarmProbeCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SwarmProbeReportTests",
            dependencies: ["SwarmProbeReport", "SwarmProbeCore", "SwarmProbeCoordinator"],
            resources: [.copy("Golden")]
        ),
        .testTarget(
            name: "SwarmProbeAgentTests",
            dependencies: [
                "SwarmProbeAgent",
                "SwarmProbeCapture",
                "SwarmProbeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The channel handler tests: embedded channels, the control endpoint's HTTP pipeline, a silent logger.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SwarmProbeAWSTests",
            dependencies: ["SwarmProbeAWS", "SwarmProbeCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SwarmProbeIntegrationTests",
            dependencies: ["SwarmProbeLab", "SwarmProbeCore", "SwarmProbeCoordinator"],
            // Fixtures are read by path (#filePath), not bundled.
            exclude: ["security_attacks.py", "Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
