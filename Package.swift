// swift-tools-version:6.2
// Layers (see ../shared/design/ARCHITECTURE.md): imports point down only; scripts/check-layers.py enforces it.
import PackageDescription

let package = Package(
    name: "Parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // L0
        .systemLibrary(name: "CExpat", pkgConfig: "expat", providers: [.apt(["libexpat1-dev"])]),
        .target(name: "CResolv", linkerSettings: [.linkedLibrary("resolv")]),
        // L1
        .target(name: "XMPPXML", dependencies: ["CExpat"]),
        .target(name: "XMPPAddress"),
        // L2
        .target(name: "XMPPProtocol", dependencies: ["XMPPXML", "XMPPAddress"]),
        .target(name: "XMPPSASL", dependencies: [
            "XMPPAddress",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        // L3
        .target(name: "XMPPStream", dependencies: ["XMPPProtocol", "XMPPSASL", "XMPPXML", "XMPPAddress"]),
        .target(name: "ParleyStorage", dependencies: ["XMPPSASL", "XMPPAddress", "XMPPXML"]),
        // L4
        .target(name: "ParleyKernel", dependencies: [
            "XMPPStream", "ParleyStorage", "XMPPProtocol", "XMPPXML", "XMPPAddress",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "ParleyNIO", dependencies: [
            "XMPPXML", "XMPPStream", "CResolv",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // L5
        .target(name: "ParleyIM", dependencies: [
            "ParleyKernel", "ParleyStorage", "XMPPProtocol", "XMPPSASL", "XMPPXML", "XMPPAddress",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "ParleySQLite", dependencies: [
            "ParleyStorage", "XMPPSASL", "XMPPXML", "XMPPAddress",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .target(name: "ParleyConfig", dependencies: [
            "XMPPAddress",
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "ParleyListeners", dependencies: [
            "ParleyKernel", "ParleyNIO", "ParleyStorage", "XMPPStream", "XMPPProtocol", "XMPPSASL", "XMPPXML", "XMPPAddress",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // L6
        .target(name: "ParleyApp", dependencies: [
            "ParleyListeners", "ParleyConfig", "ParleySQLite", "ParleyIM", "ParleyKernel", "ParleyNIO", "ParleyStorage",
            "XMPPSASL", "XMPPAddress",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // L7
        .executableTarget(name: "parley", dependencies: [
            "ParleyApp", "ParleyConfig", "ParleyIM", "ParleyStorage", "ParleySQLite", "XMPPSASL", "XMPPAddress",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "parley-load", dependencies: [
            "XMPPXML",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Tests
        .testTarget(name: "XMPPXMLTests", dependencies: ["XMPPXML"]),
        .testTarget(name: "XMPPAddressTests", dependencies: ["XMPPAddress"]),
        .testTarget(name: "XMPPSASLTests", dependencies: ["XMPPSASL"]),
        .testTarget(name: "XMPPStreamTests", dependencies: ["XMPPStream", "XMPPProtocol", "XMPPSASL", "XMPPXML", "XMPPAddress"]),
        .testTarget(name: "ParleyStorageTests", dependencies: ["ParleyStorage", "ParleySQLite", "XMPPSASL", "XMPPXML", "XMPPAddress"]),
        .testTarget(name: "ParleyConfigTests", dependencies: ["ParleyConfig"]),
        .testTarget(name: "ParleyKernelTests", dependencies: ["ParleyKernel", "ParleyIM", "ParleyStorage", "XMPPProtocol", "XMPPXML", "XMPPAddress"]),
        .testTarget(name: "ParleyIMTests", dependencies: [
            "ParleyIM", "ParleyKernel", "ParleyStorage", "ParleySQLite", "XMPPProtocol", "XMPPXML", "XMPPAddress",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ParleyListenersTests", dependencies: [
            "ParleyListeners", "ParleyNIO", "ParleyKernel", "ParleyStorage", "XMPPProtocol", "XMPPSASL", "XMPPXML",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
    ]
)
