// swift-tools-version:6.0
// The libFuzzer targets of trail (docs/fuzzing.md). A package of its own so
// that `-sanitize=fuzzer` never touches the main build: `make fuzz` builds it
// into .build-fuzz. Each target calls the project's real readers, taken from
// the main package by path.
import PackageDescription

let package = Package(
    name: "trail-fuzz",
    dependencies: [
        .package(name: "trail", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
    ],
    targets: [
        // What the frame and call targets both check of one line: the JSON reader, the
        // writer's round trip, a request and its call.
        .target(
            name: "FuzzChecks",
            dependencies: [
                .product(name: "TrailCore", package: "trail"),
                .product(name: "TrailProtocol", package: "trail"),
            ]
        ),
        // Bytes of a connection, cut into reads, through LineFrameDecoder, then each line.
        .executableTarget(
            name: "fuzz-frame",
            dependencies: [
                "FuzzChecks",
                .product(name: "TrailProtocol", package: "trail"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // One line: JSON reader, round trip, RPCRequest, Call for every method.
        .executableTarget(name: "fuzz-call", dependencies: ["FuzzChecks"]),
        // An export file (zstd or plain NDJSON) through ExportArchive.read.
        .executableTarget(
            name: "fuzz-export",
            dependencies: [
                .product(name: "TrailCore", package: "trail"),
                .product(name: "TrailProtocol", package: "trail"),
                .product(name: "TrailClient", package: "trail"),
                .product(name: "TrailZstd", package: "trail"),
            ]
        ),
        // An archive pack (zstd frames of NDJSON records) through ArchiveFrames, as every engine reads one.
        .executableTarget(
            name: "fuzz-pack",
            dependencies: [
                .product(name: "TrailCore", package: "trail"),
                .product(name: "TrailProtocol", package: "trail"),
                .product(name: "TrailStore", package: "trail"),
                .product(name: "TrailZstd", package: "trail"),
            ]
        ),
    ]
)
