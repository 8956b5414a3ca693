// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .unsafeFlags(["-Xfrontend", "-enable-actor-data-race-checks"], .when(configuration: .debug)),
]

let package = Package(
    name: "labeler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "labeler", targets: ["labeler"]),
        .library(name: "ATProto", targets: ["ATProto"]),
        .library(name: "ATCrypto", targets: ["ATCrypto"]),
        .library(name: "Firehose", targets: ["Firehose"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // C libraries, each wrapped once by a single Swift target.
        .systemLibrary(name: "CSecp256k1", pkgConfig: "libsecp256k1", providers: [.apt(["libsecp256k1-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Pure protocol values: DAG-CBOR, CID, CAR, identifiers, frames, records, labels. No I/O.
        .target(
            name: "ATProto",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Signing keys, did:key, label signatures.
        .target(
            name: "ATCrypto",
            dependencies: ["ATProto", "CSecp256k1", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Event sources: capture files (plain, gzip, zstd).
        .target(
            name: "Firehose",
            dependencies: ["ATProto", "CZstd", "CZlib"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "labeler",
            dependencies: [
                "ATProto", "ATCrypto", "Firehose",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Deterministic realistic relay messages for tests, fuzz seeds and benchmarks.
        .target(name: "SyntheticFirehose", dependencies: ["ATProto"], swiftSettings: strict),
        // Decode throughput over a capture file; build with -c release, run pinned to one core.
        .executableTarget(
            name: "decode-bench",
            dependencies: ["ATProto", "Firehose", "SyntheticFirehose"],
            path: "Benchmarks/DecodeBenchmark",
            swiftSettings: strict
        ),
        // Writes synthetic captures and fuzzing seeds.
        .executableTarget(
            name: "synthetic-capture",
            dependencies: ["Firehose", "SyntheticFirehose"],
            path: "Tools/SyntheticCapture",
            swiftSettings: strict
        ),

        .testTarget(name: "ATProtoTests", dependencies: ["ATProto", "SyntheticFirehose"], swiftSettings: strict),
        .testTarget(name: "ATCryptoTests", dependencies: ["ATCrypto", "ATProto"], swiftSettings: strict),
        .testTarget(name: "FirehoseTests", dependencies: ["Firehose", "ATProto", "SyntheticFirehose"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer target links only with `-sanitize=fuzzer`, so it is part of the package only when
// fuzzing: `ENABLE_FUZZ=1 swift build ... -Xswiftc -sanitize=fuzzer,address` (see Fuzz/run.sh).
if Context.environment["ENABLE_FUZZ"] != nil {
    package.targets.append(.target(name: "CFuzzing", path: "Fuzz/CFuzzing"))
    package.targets.append(
        .executableTarget(name: "frame-fuzzer", dependencies: ["ATProto", "CFuzzing"], path: "Fuzz/FrameFuzzer")
    )
}
