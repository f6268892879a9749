// swift-tools-version: 6.0
// libFuzzer targets for swarmprobe's decoders and parsers; a package of its own (like swift-protobuf's
// FuzzTesting) so the main package never builds with the fuzzer. Build and run with `scripts/fuzz.sh`.
import PackageDescription

/// One executable per fuzzer; each defines `LLVMFuzzerTestOneInput`, libFuzzer brings `main`.
let fuzzers: [(name: String, product: String)] = [
    ("FuzzProbePacket", "SwarmProbeCore"),
    ("FuzzControl", "SwarmProbeCore"),
    ("FuzzInventory", "SwarmProbeCore"),
    ("FuzzProfile", "SwarmProbeCore"),
    ("FuzzDissector", "SwarmProbeCapture"),
]

let package = Package(
    name: "swarmprobe-fuzz",
    dependencies: [
        // The repository's own package. `name:` lets the products below name it whatever the
        // checkout's folder is called (a path dependency's identity is its folder name).
        .package(name: "swarmprobe", path: ".."),
        // Already a dependency of swarmprobe (same URL, one checkout): SymmetricKey for the fixed test key.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        .target(
            name: "FuzzCommon",
            dependencies: [
                .product(name: "SwarmProbeCore", package: "swarmprobe"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        )
    ]
        + fuzzers.map { fuzzer in
            .executableTarget(
                name: fuzzer.name,
                dependencies: ["FuzzCommon", .product(name: "Crypto", package: "swift-crypto")]
                    + Set(["SwarmProbeCore", fuzzer.product]).sorted().map { .product(name: $0, package: "swarmprobe") }
            )
        },
    swiftLanguageModes: [.v6]
)
