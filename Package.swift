// swift-tools-version: 6.0
import PackageDescription

// Linux only: the agent needs libpcap, nftables and Linux's socket options; the labs need network
// namespaces. (SwiftPM has no way to declare "Linux only", so no `platforms` line pretends otherwise.)
let package = Package(
    name: "swarmprobe",
    products: [
        // What users run: the tool, and the agent alone for production nodes.
        .executable(name: "swarmprobe", targets: ["swarmprobe"]),
        .executable(name: "swarmprobe-agent", targets: ["swarmprobe-agent"]),
        // Benchmarks, not shipped to users: they run the two binaries above, built beside them.
        .executable(name: "swarmprobe-bench", targets: ["swarmprobe-bench"]),
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
        // Pure model: inventory, profile, checks, evidence, the verdict function, wire messages and their
        // authentication. No networking, no C.
        .target(
            name: "SwarmProbeCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Running programs (nft, ip, docker, the AWS CLI, agents): one owner of process handling.
        .target(name: "SwarmProbeProcess", dependencies: ["CGlibc"]),
        // libpcap, through pkg-config (Debian: libpcap-dev). Only SwarmProbeCapture imports it.
        .systemLibrary(
            name: "CPcap",
            path: "Sources/CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // What the Swift Glibc module leaves out: the allocator's controls, posix_spawn's closefrom.
        .systemLibrary(name: "CGlibc", path: "Sources/CGlibc"),
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
            name: "SwarmProbeAgent",
            dependencies: [
                "SwarmProbeCore",
                "SwarmProbeCapture",
                "SwarmProbeProcess",
                "CGlibc",
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
                "SwarmProbeReport",
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
            dependencies: ["SwarmProbeCore", "SwarmProbeProcess"]
        ),
        // Agents put on the nodes for one check and taken off again: over SSH, or as a swarm service.
        .target(
            name: "SwarmProbeDeploy",
            dependencies: ["SwarmProbeCore", "SwarmProbeProcess", "SwarmProbeCoordinator"]
        ),
        // Namespace labs with injected faults, and a real Docker swarm in namespaces: the demo and the tests.
        .target(
            name: "SwarmProbeLab",
            dependencies: ["SwarmProbeCore", "SwarmProbeProcess"]
        ),
        // The agent's command line, and what every command line shares (one-line errors, exit codes).
        .target(
            name: "SwarmProbeAgentCLI",
            dependencies: [
                "SwarmProbeAgent", "SwarmProbeCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
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
                "SwarmProbeDeploy",
                "SwarmProbeProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Benchmarks and their generators (`swarmprobe-bench`).
        .target(
            name: "SwarmProbeBench",
            dependencies: [
                "SwarmProbeCore",
                "SwarmProbeAgent",
                "SwarmProbeAgentCLI",
                "SwarmProbeCommands",
                "SwarmProbeCoordinator",
                "SwarmProbeReport",
                "SwarmProbeLab",
                "SwarmProbeProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "swarmprobe",
            dependencies: ["SwarmProbeCommands"]
        ),
        .executableTarget(
            name: "swarmprobe-agent",
            dependencies: ["SwarmProbeAgentCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // The Swift driver links executables with --export-dynamic, which nothing in the agent needs: it
            // loads no plugins, and nothing looks its symbols up. (A crash backtrace without the toolchain's
            // swift-backtrace helper names fewer frames.)
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]
        ),
        .executableTarget(
            name: "swarmprobe-bench",
            dependencies: ["SwarmProbeBench"]
        ),
        // The verdict table, shared by the tests of `decide` and of the sentences the reports word from it.
        .target(
            name: "SwarmProbeTestSupport",
            dependencies: ["SwarmProbeCore"],
            path: "Tests/SwarmProbeTestSupport"
        ),
        .testTarget(
            name: "SwarmProbeCoreTests",
            dependencies: ["SwarmProbeCore", "SwarmProbeTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SwarmProbeProcessTests",
            dependencies: ["SwarmProbeProcess"]
        ),
        .testTarget(
            name: "SwarmProbeDeployTests",
            dependencies: ["SwarmProbeDeploy", "SwarmProbeCoordinator", "SwarmProbeCore", "SwarmProbeProcess"]
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
            dependencies: ["SwarmProbeReport", "SwarmProbeCore", "SwarmProbeCoordinator", "SwarmProbeBench", "SwarmProbeTestSupport"],
            resources: [.copy("Golden")]
        ),
        .testTarget(
            name: "SwarmProbeCoordinatorTests",
            dependencies: [
                "SwarmProbeCoordinator", "SwarmProbeCore", "SwarmProbeReport", "SwarmProbeBench", "SwarmProbeAgent",
                "SwarmProbeTestSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SwarmProbeAgentTests",
            dependencies: [
                "SwarmProbeAgent",
                "CGlibc",
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
            dependencies: ["SwarmProbeLab", "SwarmProbeCore", "SwarmProbeCoordinator", "SwarmProbeProcess", "SwarmProbeBench", "SwarmProbeCommands"],
            // Fixtures are read by path (#filePath), not bundled.
            exclude: ["security_attacks.py", "Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
