// swift-tools-version: 6.2
//
// Mesa for Swift: one package, one `mesa` executable, and the `MesaKit` library (later issues).
// Module graph and import rules: docs/Architecture.md and ../shared/DESIGN.md section 2.
import Foundation
import PackageDescription

/// Settings shared by every target of ours (STYLE.md section 2).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

// MesaStore checksums record payloads with the SSE4.2 `crc32` instruction on x86-64 (PayloadChecksum.swift).
// Only MesaStore gets the flag, and no library product contains MesaStore, so packages that depend on MesaKit
// never see an unsafe flag.
#if arch(x86_64)
let storeSettings = strictSettings + [.unsafeFlags(["-Xcc", "-msse4.2"])]
#else
let storeSettings = strictSettings
#endif

let package = Package(
    name: "mesa",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mesa", targets: ["MesaCLI"]),
        .library(name: "MesaKit", targets: ["MesaKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // C shims: a module map and one header each, nothing else (STYLE.md section 6).
        .systemLibrary(name: "CFuse", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        .target(
            name: "MesaCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaStore",
            dependencies: [
                "MesaCore", "CZstd",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: storeSettings
        ),
        .target(
            name: "MesaTree",
            dependencies: [
                "MesaCore", "MesaStore", "CGit2",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaWire",
            dependencies: ["MesaCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaServer",
            dependencies: [
                "MesaCore", "MesaStore", "MesaTree", "MesaWire",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaKit",
            dependencies: ["MesaWire", "MesaCore", "CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "MesaCLI",
            dependencies: [
                "MesaCore", "MesaStore", "MesaTree", "MesaWire", "MesaServer", "MesaKit", "MesaSync", "MesaFS",
                "MesaFuse",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaSync",
            dependencies: [
                "MesaCore", "MesaStore", "MesaTree", "MesaKit", "MesaWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaFS",
            dependencies: [
                "MesaCore", "MesaSync", "MesaStore", "MesaTree",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaFuse",
            dependencies: [
                "MesaCore", "MesaFS", "MesaSync", "CFuse",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MesaTesting",
            dependencies: [
                "MesaCore", "MesaStore", "MesaTree", "MesaSync", "MesaFS", "MesaFuse",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),

        // Examples/: programs written as a user's backend would write them, against MesaKit's public API only.
        .executableTarget(
            name: "MintToken", dependencies: ["MesaKit"], path: "Examples/MintToken", swiftSettings: strictSettings),

        .testTarget(
            name: "ShimTests",
            dependencies: ["CFuse", "CGit2", "CZstd", "CCurl"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaServerTests",
            dependencies: [
                "MesaServer", "MesaWire", "MesaCore", "MesaStore", "MesaTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "MesaTesting", "MesaWire", "MesaCore", "MesaKit", "MesaStore", "MesaTree",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaWireTests",
            dependencies: ["MesaWire", "MesaCore", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaKitTests",
            dependencies: ["MesaKit", "MesaWire", "MesaTesting", "MesaCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "MesaCoreTests", dependencies: ["MesaCore", "MesaTesting"], swiftSettings: strictSettings),
        .testTarget(
            name: "MesaStoreTests",
            dependencies: ["MesaStore", "MesaCore", "MesaTesting", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaTreeTests",
            dependencies: [
                "MesaTree", "MesaStore", "MesaCore", "MesaTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaSyncTests",
            dependencies: ["MesaSync", "MesaStore", "MesaTree", "MesaCore", "MesaTesting", "MesaKit", "MesaWire"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaFSTests",
            dependencies: [
                "MesaFS", "MesaSync", "MesaStore", "MesaTree", "MesaCore", "MesaTesting",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaFuseIntegrationTests",
            dependencies: [
                "MesaFuse", "MesaFS", "MesaSync", "MesaStore", "MesaTree", "MesaCore", "MesaTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MesaCLITests",
            dependencies: [
                "MesaCLI", "MesaTesting", "MesaCore", "MesaFS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)

// Benchmark targets exist only when asked for, so ordinary builds and CI do not compile the harness.
if ProcessInfo.processInfo.environment["MESA_BENCHMARKS"] == "1" {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "StoreBenchmarks",
            dependencies: [
                "MesaStore", "MesaCore",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/StoreBenchmarks",
            swiftSettings: strictSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
