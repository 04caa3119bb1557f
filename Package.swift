// swift-tools-version: 6.0
import PackageDescription

// Module layout and import direction: see DESIGN.md (Core ← Engine ← ModelZoo ← … ← CLI).
let package = Package(
    name: "EdgeInsight",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "edgeinsight", targets: ["EdgeInsightCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .target(
            name: "EdgeInsightCore",
            dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .target(name: "COpenVINOTypes"),
        .target(
            name: "Engine",
            dependencies: [
                "EdgeInsightCore", "COpenVINOTypes",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .target(
            name: "ModelZoo",
            dependencies: [
                "EdgeInsightCore", "Engine",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "Imaging",
            dependencies: ["EdgeInsightCore", "Engine", "CTurboJPEG"]
        ),
        .target(name: "InferenceProtocol", dependencies: ["EdgeInsightCore"]),
        .target(
            name: "Link",
            dependencies: [
                "EdgeInsightCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Server",
            dependencies: [
                "EdgeInsightCore", "Engine", "ModelZoo", "Imaging", "InferenceProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ]
        ),
        .target(
            name: "LoadGen",
            dependencies: [
                "EdgeInsightCore", "InferenceProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Results",
            dependencies: ["EdgeInsightCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "Testbed",
            dependencies: [
                "EdgeInsightCore", "Engine", "ModelZoo", "Imaging", "InferenceProtocol", "Link", "LoadGen", "Results",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "EdgeInsightCLI",
            dependencies: [
                "EdgeInsightCore", "Engine", "ModelZoo", "Imaging", "InferenceProtocol", "Link", "Server", "LoadGen", "Results", "Testbed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "EdgeInsightCoreTests", dependencies: ["EdgeInsightCore"]),
        .testTarget(name: "LinkTests", dependencies: ["Link", "TestSupport"]),
        .testTarget(name: "ResultsTests", dependencies: ["Results", "TestSupport"]),
        .testTarget(name: "TestbedTests", dependencies: ["Testbed", "Results", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "ModelZoo", "TestSupport"]),
        .testTarget(name: "ModelZooTests", dependencies: ["ModelZoo", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "ModelZoo", "TestSupport"]),
        .testTarget(name: "InferenceProtocolTests", dependencies: ["InferenceProtocol"]),
        .testTarget(name: "ServerTests", dependencies: ["Engine", "ModelZoo", "Imaging", "InferenceProtocol", "TestSupport"]),
        .testTarget(name: "LoadGenTests", dependencies: ["LoadGen", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
