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
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // Each target declares exactly the modules its files import.
        .target(
            name: "EdgeInsightCore",
            dependencies: [.product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .target(name: "COpenVINOTypes"),
        .target(name: "Engine", dependencies: ["EdgeInsightCore", "COpenVINOTypes"]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .target(
            name: "ModelZoo",
            dependencies: ["EdgeInsightCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(name: "Imaging", dependencies: ["EdgeInsightCore", "CTurboJPEG"]),
        .target(name: "InferenceProtocol", dependencies: ["EdgeInsightCore"]),
        .target(name: "Profiles", dependencies: ["EdgeInsightCore", .product(name: "Yams", package: "Yams")]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .target(name: "Broker", dependencies: ["EdgeInsightCore", "CMosquitto"]),
        .target(
            name: "Link",
            dependencies: [
                "EdgeInsightCore", "Profiles",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Server",
            dependencies: [
                "EdgeInsightCore", "Engine", "ModelZoo", "Imaging", "InferenceProtocol", "Broker",
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
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "EdgeNode",
            dependencies: [
                "EdgeInsightCore", "Engine", "ModelZoo", "Imaging", "InferenceProtocol", "LoadGen", "Broker",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Results",
            dependencies: ["EdgeInsightCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(name: "Modeling", dependencies: ["EdgeInsightCore", "ModelZoo", "Profiles", "Link", "Results"]),
        .target(
            name: "Testbed",
            dependencies: [
                "EdgeInsightCore", "Engine", "Profiles", "Link", "Server", "EdgeNode", "Results", "ModelZoo", "Broker",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Planner",
            dependencies: ["EdgeInsightCore", "ModelZoo", "Profiles", "Link", "Results", "Testbed", "Modeling", .product(name: "Yams", package: "Yams")]
        ),
        .target(name: "Report", dependencies: ["EdgeInsightCore", "LoadGen", "EdgeNode", "Results", "Testbed", "Modeling", "Planner", "ModelZoo"]),
        .executableTarget(
            name: "EdgeInsightCLI",
            dependencies: [
                "EdgeInsightCore", "Engine", "ModelZoo", "Imaging", "Profiles", "Broker", "Link", "Server", "LoadGen", "EdgeNode", "Results", "Testbed", "Modeling", "Planner", "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "EdgeInsightCoreTests", dependencies: ["EdgeInsightCore"]),
        .testTarget(name: "EngineTests", dependencies: ["EdgeInsightCore", "Engine", "ModelZoo", "TestSupport"]),
        .testTarget(name: "ModelZooTests", dependencies: ["EdgeInsightCore", "ModelZoo", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["EdgeInsightCore", "Imaging"]),
        .testTarget(name: "InferenceProtocolTests", dependencies: ["InferenceProtocol"]),
        .testTarget(name: "BrokerTests", dependencies: ["EdgeInsightCore", "Broker", "TestSupport"]),
        .testTarget(name: "LinkTests", dependencies: ["EdgeInsightCore", "Profiles", "Link", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: ["EdgeInsightCore", "InferenceProtocol", "Server", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LoadGenTests", dependencies: ["EdgeInsightCore", "LoadGen", "TestSupport"]),
        .testTarget(name: "EdgeNodeTests", dependencies: ["EdgeInsightCore", "Engine", "ModelZoo", "Imaging", "EdgeNode", "TestSupport"]),
        .testTarget(name: "ResultsTests", dependencies: ["EdgeInsightCore", "Results", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TestbedTests", dependencies: ["EdgeInsightCore", "ModelZoo", "Results", "Testbed", "TestSupport"]),
        .testTarget(name: "ModelingTests", dependencies: ["EdgeInsightCore", "Modeling", "Results"]),
        .testTarget(name: "PlannerTests", dependencies: ["EdgeInsightCore", "Modeling", "Planner", "Profiles", "Report", "Results"]),
        .testTarget(name: "ReportTests", dependencies: ["EdgeInsightCore", "LoadGen", "Results", "Modeling", "Report", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["EdgeInsightCore", "Broker", "Engine", "Imaging", "ModelZoo", "LoadGen", "Results", "Testbed", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
