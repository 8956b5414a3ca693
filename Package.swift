// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // No unsafeFlags (they bar use as a dependency): Swift 6 mode turns on SE-0423 dynamic actor-isolation checks.
]

let package = Package(
    name: "labeler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "labeler", targets: ["labeler"]),
        .library(name: "ATProto", targets: ["ATProto"]),
        .library(name: "ATCrypto", targets: ["ATCrypto"]),
        .library(name: "Firehose", targets: ["Firehose"]),
        .library(name: "KeyedScheduler", targets: ["KeyedScheduler"]),
        .library(name: "Matching", targets: ["Matching"]),
        .library(name: "Rules", targets: ["Rules"]),
        .library(name: "LabelServer", targets: ["LabelServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Tests only: a certificate authority made in the test, for `wss://` against the test relay.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
    ],
    targets: [
        // C libraries, each wrapped once by a single Swift target.
        .systemLibrary(name: "CSecp256k1", pkgConfig: "libsecp256k1", providers: [.apt(["libsecp256k1-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),

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
            dependencies: [
                "ATProto", "CZstd", "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "labeler",
            dependencies: [
                "ATProto", "ATCrypto", "Firehose", "Identity", "KeyedScheduler", "Labeler", "LabelStore", "Rules",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Per-key ordered, bounded, concurrent event scheduling with a low-water mark. No dependencies.
        .target(name: "KeyedScheduler", swiftSettings: strict),
        // PCRE2 wrapper, keyword automaton, text normalisation (Foundation for NFKC and case folding).
        .target(name: "Matching", dependencies: ["CPCRE2"], swiftSettings: strict),
        // Rule files (YAML): loader with file:line:column errors, compiled rule set, pure engine, hot reload.
        .target(
            name: "Rules",
            dependencies: ["ATProto", "Matching", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // The SQLite database: cursors, labels, history (GRDB, WAL).
        .target(
            name: "LabelStore",
            dependencies: ["ATProto", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // XRPC over HTTP and WebSocket: subscribeLabels, queryLabels, the admin label endpoint, health,
        // metrics. It takes the label writer as a closure and its commits as a stream, so the wiring
        // (Labeler) can depend on it.
        .target(
            name: "LabelServer",
            dependencies: [
                "ATProto", "ATCrypto", "LabelStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // Who an account is: DID documents (did:plc, did:web), handles (DNS TXT and HTTPS, checked both
        // ways), a bounded cache; and the XRPC calls to an account's PDS that publish the labeler.
        .target(
            name: "Identity",
            dependencies: [
                "ATProto", "ATCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Wiring: the ingest pipeline, configuration, services. VERSION (the release, one line) is
        // compiled in, so `labeler --version` and `_health` need no file at run time.
        .target(
            name: "Labeler",
            dependencies: [
                "ATProto", "ATCrypto", "Firehose", "Identity", "KeyedScheduler", "LabelStore", "LabelServer", "Rules",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.embedInCode("VERSION")],
            swiftSettings: strict
        ),
        // An in-process relay with fault injection, for tests.
        .target(
            name: "TestRelay",
            dependencies: [
                "ATProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // A seedable random number generator for generated data, tests and benchmarks.
        .target(name: "SeededRandom", swiftSettings: strict),
        // Deterministic realistic relay messages for tests, fuzz seeds and benchmarks.
        .target(name: "SyntheticFirehose", dependencies: ["ATProto", "SeededRandom"], swiftSettings: strict),
        // Decode throughput over a capture file; build with -c release, run pinned to one core.
        .executableTarget(
            name: "decode-bench",
            dependencies: ["ATProto", "Firehose", "SyntheticFirehose"],
            path: "Benchmarks/DecodeBenchmark",
            swiftSettings: strict
        ),
        // Scheduler overhead per event; build with -c release, run pinned to one core.
        .executableTarget(
            name: "scheduler-bench",
            dependencies: ["KeyedScheduler", "SeededRandom"],
            path: "Benchmarks/SchedulerBenchmark",
            swiftSettings: strict
        ),
        // Keyword and regex cost per post; build with -c release, run pinned to one core.
        .executableTarget(
            name: "matching-bench",
            dependencies: ["Matching", "SeededRandom"],
            path: "Benchmarks/MatchingBenchmark",
            swiftSettings: strict
        ),
        // Rule engine cost per post (10 000 keywords, 500 regexes); build with -c release, run pinned to one core.
        .executableTarget(
            name: "rules-bench",
            dependencies: ["Rules", "ATProto", "Matching", "SeededRandom"],
            path: "Benchmarks/RulesBenchmark",
            swiftSettings: strict
        ),
        // Labels signed and committed per second through the label writer.
        .executableTarget(
            name: "writer-bench",
            dependencies: [
                "Labeler", "LabelStore", "ATCrypto", "ATProto", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/WriterBenchmark",
            swiftSettings: strict
        ),
        // What the benchmarks that serve share: a scratch directory and a quiet logger, and the
        // label server run in process.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                "ATCrypto", "LabelServer", "LabelStore", "TestNetwork", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/BenchmarkSupport",
            swiftSettings: strict
        ),
        // Label stream throughput (backfill) and live delivery latency to many subscribers.
        .executableTarget(
            name: "serve-bench",
            dependencies: [
                "BenchmarkSupport", "LabelServer", "Labeler", "LabelStore", "ATCrypto", "ATProto", "Firehose",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "Benchmarks/ServeBenchmark",
            swiftSettings: strict
        ),
        // What source.verify costs per commit (signed sync 1.1 commits, in-process PLC directory);
        // build with -c release, run pinned to one core.
        .executableTarget(
            name: "verify-bench",
            dependencies: ["ATProto", "ATCrypto", "Firehose", "Identity", "SeededRandom", "SyntheticFirehose", "TestNetwork"],
            path: "Benchmarks/VerifyBenchmark",
            swiftSettings: strict
        ),
        // createReport latency at a steady rate with a warm DID cache (service auth, limits, the
        // report's transaction) over HTTP; build with -c release.
        .executableTarget(
            name: "report-bench",
            dependencies: [
                "ATCrypto", "BenchmarkSupport", "ATProto", "Identity", "Labeler", "LabelServer", "LabelStore", "Rules",
                "TestNetwork",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/ReportBenchmark",
            swiftSettings: strict
        ),
        // Writes synthetic captures and fuzzing seeds.
        .executableTarget(
            name: "synthetic-capture",
            dependencies: ["Firehose", "SyntheticFirehose"],
            path: "Tools/SyntheticCapture",
            swiftSettings: strict
        ),

        // Helpers shared by the test targets: a quiet logger, temporary paths, waiting for a condition.
        .target(
            name: "TestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        // An in-process PLC directory, web hosts, PDS and DNS server that check the real lexicons.
        .target(
            name: "TestNetwork",
            dependencies: [
                "ATProto", "ATCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/TestNetwork",
            swiftSettings: strict
        ),
        .testTarget(name: "ATProtoTests", dependencies: ["ATProto", "SyntheticFirehose", "SeededRandom"], swiftSettings: strict),
        .testTarget(
            name: "LabelerTests",
            dependencies: [
                "Labeler", "LabelStore", "Firehose", "ATProto", "ATCrypto", "KeyedScheduler", "SyntheticFirehose",
                "TestRelay", "Rules", "SeededRandom", "TestSupport", "TestNetwork", "Identity", "LabelServer",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "LabelServerTests",
            dependencies: [
                "LabelServer", "Labeler", "LabelStore", "ATProto", "ATCrypto", "Firehose", "TestSupport", "TestNetwork",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KeyedSchedulerTests", dependencies: ["KeyedScheduler", "SeededRandom", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "MatchingTests", dependencies: ["Matching", "SeededRandom"], swiftSettings: strict),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "ATProto", "Matching"], swiftSettings: strict),
        .testTarget(
            name: "IdentityTests",
            dependencies: [
                "Identity", "ATProto", "ATCrypto", "TestSupport", "TestNetwork",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ATCryptoTests", dependencies: ["ATCrypto", "ATProto"], swiftSettings: strict),
        .testTarget(
            name: "FirehoseTests",
            dependencies: [
                "Firehose", "ATProto", "SyntheticFirehose", "TestRelay", "CZstd", "SeededRandom", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict),
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
