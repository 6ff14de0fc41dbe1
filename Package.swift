// swift-tools-version:6.2
import PackageDescription

// Every Swift target builds with these (hummingbird 2.28.1's `Package.swift:6-14`).
let swiftSettings: [SwiftSetting] = [
    // https://github.com/apple/swift-evolution/blob/main/proposals/0335-existential-any.md
    .enableUpcomingFeature("ExistentialAny"),

    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0444-member-import-visibility.md
    .enableUpcomingFeature("MemberImportVisibility"),

    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0409-access-level-on-imports.md
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "sagemaker-callback",
    products: [
        .executable(name: "sagemaker-callback", targets: ["sagemaker-callback"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Without its default SubprocessFoundation trait: we read output as bytes, not Data.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2", traits: []),
        // Subprocess's `FilePath` on Linux (Apple platforms have the System framework).
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // C libraries from Debian, wrapped at the leaves.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // Leaves: they know nothing of what is above them.
        .target(name: "JSON"),
        .target(name: "SigV4", dependencies: ["CLibCrypto"]),
        .target(name: "HTTP", dependencies: ["CCurl"]),
        // The store's interface and rows, shared by the engine and both backends.
        .target(name: "CallbackStore"),
        // The SQLite backend.
        .target(name: "Store", dependencies: ["CallbackStore", "CSQLite"]),

        // The AWS client: credentials, endpoints, the JSON protocol, retries, operations.
        .target(
            name: "AWS",
            dependencies: [
                "HTTP", "SigV4", "JSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),

        // The DynamoDB backend: any number of replicas on one table.
        .target(
            name: "DynamoStore",
            dependencies: [
                "AWS", "CallbackStore", "JSON",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The operator's HTTP listener (metrics, health) on SwiftNIO's HTTP/1 codec.
        .target(
            name: "StatusServer",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // The engine and the services around it.
        .target(
            name: "Relay",
            dependencies: [
                "AWS", "CallbackStore", "Store", "DynamoStore", "JSON", "SigV4", "HTTP", "StatusServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // The thin executable: argument parsing and wiring.
        .executableTarget(
            name: "sagemaker-callback",
            dependencies: [
                "Relay", "AWS", "CallbackStore", "HTTP", "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // A local AWS emulator (moto) on loopback, with the deployment from infra/: shared by
        // the integration tests and the demo.
        .target(
            name: "Moto",
            dependencies: [
                "AWS", "HTTP", "JSON", "SigV4",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "sagemaker-callback-demo",
            dependencies: ["Moto", "AWS", "JSON"]
        ),

        // `make bench`: what the DynamoDB backend costs per job (not a product: never shipped).
        .executableTarget(
            name: "sagemaker-callback-bench",
            dependencies: [
                "Relay", "Moto", "AWS", "CallbackStore", "DynamoStore", "Store", "JSON",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // `make bench`: a fast in-process fake of the SQS and Step Functions calls `serve` makes,
        // and the load bench that drives the real binary against it (neither ships).
        .target(
            name: "FakeAWS",
            dependencies: [
                "JSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // What the load bench, the fault runner and their integration tests share: the jobs,
        // the queue loader, the serve process, the fault scenarios and kill loops.
        .target(
            name: "BenchSupport",
            dependencies: [
                "FakeAWS", "AWS", "HTTP", "JSON", "Moto", "SigV4",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "sagemaker-callback-loadbench",
            dependencies: [
                "BenchSupport", "FakeAWS", "AWS", "HTTP", "JSON", "SigV4",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "sagemaker-callback-faults", dependencies: ["BenchSupport", "FakeAWS", "Moto"]),

        // `make bench`: what the metrics and a JSON log line add to a callback (not shipped).
        .executableTarget(
            name: "sagemaker-callback-opsbench",
            dependencies: [
                "Relay", "AWS", "CallbackStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // `make fuzz`: every parser of untrusted input behind one libFuzzer entry (not a product:
        // never shipped). CFuzzer declares libFuzzer's driver, linked only in the fuzz build.
        .target(name: "CFuzzer"),
        .target(name: "FuzzTargets", dependencies: ["AWS", "HTTP", "JSON", "Relay", "SigV4"]),
        .executableTarget(name: "sagemaker-callback-fuzz", dependencies: ["FuzzTargets", "CFuzzer"]),

        // What the test targets share (not a product): the HTTP client's routes on the one
        // loopback server, a temporary store, the deadline wait, loggers that record or drop, and
        // recording fakes of the clients the Relay services take (and of their clock).
        .target(
            name: "TestSupport",
            dependencies: [
                "Moto", "HTTP", "Store", "CallbackStore", "Relay", "AWS", "JSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),

        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets"], exclude: ["Seeds", "Regressions"]),
        .testTarget(name: "SigV4Tests", dependencies: ["SigV4"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Moto", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["CallbackStore", "Store", "CSQLite", "TestSupport"]),
        .testTarget(
            name: "StoreContractTests",
            dependencies: [
                "CallbackStore", "Store", "DynamoStore", "AWS", "Moto",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FakeAWSTests", dependencies: ["FakeAWS", "AWS", "HTTP", "JSON", "SigV4", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "AWSTests",
            dependencies: [
                "AWS", "JSON", "HTTP", "SigV4", "Moto", "TestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "Relay", "AWS", "CallbackStore", "Store", "JSON", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Relay", "AWS", "CallbackStore", "Store", "DynamoStore", "JSON", "HTTP", "Moto", "SigV4", "StatusServer", "BenchSupport", "FakeAWS",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The shared settings, on every Swift target (the system libraries take none), so a target added
// later gets them too.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + swiftSettings
}
