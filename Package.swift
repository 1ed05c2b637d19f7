// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "trail",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TrailCore", targets: ["TrailCore"]),
        .library(name: "TrailProtocol", targets: ["TrailProtocol"]),
        .library(name: "TrailStore", targets: ["TrailStore"]),
        .library(name: "TrailSQLite", targets: ["TrailSQLite"]),
        .library(name: "TrailPostgres", targets: ["TrailPostgres"]),
        .library(name: "TrailEmbedding", targets: ["TrailEmbedding"]),
        .library(name: "TrailServer", targets: ["TrailServer"]),
        .library(name: "TrailClient", targets: ["TrailClient"]),
        // For the fuzz targets (Fuzz/Package.swift), which read zstd the way trailctl and the engines do.
        .library(name: "TrailZstd", targets: ["TrailZstd"]),
        .executable(name: "traild", targets: ["traild"]),
        .executable(name: "trailctl", targets: ["trailctl"]),
        .executable(name: "trail-compactor", targets: ["trail-compactor"]),
        .executable(name: "trail-mcp", targets: ["trail-mcp"]),
        .executable(name: "trail-bench", targets: ["trail-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", exact: "0.12.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        // TLS to the database (sslmode), as postgres-nio takes it.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "TrailZstd", dependencies: ["CZstd"]),
        .target(
            name: "TrailCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "TrailProtocol",
            dependencies: ["TrailCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // The engine-neutral store: the protocol, what a write means, group commit, archive records.
        .target(name: "TrailStore", dependencies: ["TrailCore", "TrailZstd", .product(name: "Metrics", package: "swift-metrics")]),
        // The embedded engine: one SQLite file (GRDB), archive packs beside it.
        .target(
            name: "TrailSQLite",
            dependencies: ["TrailCore", "TrailStore", "TrailZstd", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // Many daemons, one database: the PostgreSQL engine (postgres-nio).
        .target(
            name: "TrailPostgres",
            dependencies: [
                "TrailCore", "TrailStore", "TrailZstd",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Recall by meaning (contract §8): the tokenizer, the model, vector search.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Int8 matrix products (AVX-512 VNNI, with a portable loop) for the encoder's dense layers.
        // Optimised in debug builds too: the tests embed hundreds of texts through it.
        .target(name: "CTrailKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "TrailEmbedding", dependencies: ["COpenBLAS", "CTrailKernels"]),
        .target(name: "TrailCompactor", dependencies: [
            "TrailCore", "TrailStore", .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .executableTarget(
            name: "trail-compactor",
            dependencies: [
                "TrailCompactor", "TrailStore", "TrailSQLite", "TrailPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "TrailServer",
            dependencies: [
                "TrailCore", "TrailProtocol", "TrailStore", "TrailSQLite", "TrailPostgres", "TrailCompactor", "TrailEmbedding", "CTrailKernels",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "traild",
            dependencies: [
                "TrailServer",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "TrailClient",
            dependencies: [
                "TrailCore", "TrailProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "trailctl",
            dependencies: [
                "TrailClient", "TrailZstd", "TrailStore", "TrailSQLite", "TrailPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "TrailMCP",
            dependencies: [
                "TrailClient", "TrailCore", "TrailProtocol",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "trail-mcp",
            dependencies: [
                "TrailMCP", "TrailClient", "TrailCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The benchmark harness: traild beside Redis, raw SQLite, raw PostgreSQL and the disk's fsync rate (Benchmarks/README.md).
        .executableTarget(
            name: "trail-bench",
            dependencies: [
                "TrailCore", "TrailStore", "TrailSQLite", "TrailPostgres", "TrailServer", "TrailClient", "TrailProtocol", "TrailEmbedding",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/Sources/trail-bench"
        ),
        .testTarget(name: "TrailZstdTests", dependencies: ["TrailZstd"]),
        .testTarget(name: "TrailCoreTests", dependencies: ["TrailCore"]),
        .testTarget(name: "TrailStoreTests", dependencies: ["TrailStore"]),
        .testTarget(name: "TrailProtocolTests", dependencies: ["TrailProtocol", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "TrailSQLiteTests", dependencies: ["TrailSQLite", "TrailStore", "TrailCompactor"]),
        .testTarget(name: "TrailEmbeddingTests", dependencies: ["TrailEmbedding", "CTrailKernels", "COpenBLAS"], exclude: ["reference_forward.py"]),
        .testTarget(name: "TrailPostgresTests", dependencies: ["TrailPostgres", "TrailStore", "TrailCore", "TrailCompactor", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "TrailServerTests", dependencies: ["TrailServer", "TrailPostgres", .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "TrailClientTests", dependencies: ["TrailClient", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "TrailMCPTests", dependencies: ["TrailMCP", "TrailClient", "TrailProtocol", .product(name: "MCP", package: "swift-sdk"), .product(name: "Logging", package: "swift-log")]),
    ]
)
