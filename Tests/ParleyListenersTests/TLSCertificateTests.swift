import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ParleyNIO
import Synchronization
import Testing

@Suite("TLS certificates, channel binding and SNI")
struct TLSCertificateTests {
    // MARK: - Certificate store

    @Test func generatedCertificateReloadsWithSameFingerprint() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = CertificateStore(dataDirectory: directory.path)

        let first = try store.loadOrGenerate(host: "example.test")
        #expect(first.wasGenerated)
        #expect(first.certificatePath == directory.path + "/certs/example.test.crt")
        #expect(first.keyPath == directory.path + "/certs/example.test.key")
        #expect(first.identity.certificateChain.count == 1)
        // 32 bytes as "AB:" triples, minus the last colon.
        #expect(first.identity.fingerprintSHA256.count == 32 * 3 - 1)

        let second = try store.loadOrGenerate(host: "example.test")
        #expect(!second.wasGenerated)
        #expect(second.identity.fingerprintSHA256 == first.identity.fingerprintSHA256)
        #expect(second.identity.leafDER == first.identity.leafDER)

        // The operator-supplied path reads the same files the same way.
        let configured = try CertificateStore.load(
            certificateChainPath: first.certificatePath,
            privateKeyPath: first.keyPath
        )
        #expect(configured.fingerprintSHA256 == first.identity.fingerprintSHA256)
    }

    @Test func keyFileIsOwnerOnly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let loaded = try CertificateStore(dataDirectory: directory.path).loadOrGenerate(host: "example.test")
        let attributes = try FileManager.default.attributesOfItem(atPath: loaded.keyPath)
        let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value
        #expect(mode == 0o600)
        // No temporary files left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/certs").sorted()
        #expect(names == ["example.test.crt", "example.test.key"])
    }

    @Test func generatedCertificateNamesTheHost() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let loaded = try CertificateStore(dataDirectory: directory.path).loadOrGenerate(
            host: "Example.TEST",
            additionalNames: ["conference.example.test"]
        )
        let leaf = try #require(loaded.identity.certificateChain.first)
        let names = leaf._subjectAlternativeNames().map { name -> String in
            let bytes = name.contents.withUnsafeBufferPointer { Array($0) }
            switch name.nameType {
            case .dnsName: return "dns:" + String(decoding: bytes, as: UTF8.self)
            case .ipAddress: return "ip:" + bytes.map(String.init).joined(separator: ".")
            default: return "other"
            }
        }
        #expect(names == ["dns:example.test", "dns:conference.example.test"])
        // Valid from an hour ago (clock skew) for ten years.
        let now = Int(Date().timeIntervalSince1970)
        #expect(abs(Int(leaf.notValidBefore) - (now - 3600)) < 120)
        #expect(abs(Int(leaf.notValidAfter) - (now + 3652 * 86400)) < 2 * 86400)

        let ipIdentity = try CertificateStore(dataDirectory: directory.path).loadOrGenerate(host: "127.0.0.1")
        let ipNames = ipIdentity.identity.certificateChain[0]._subjectAlternativeNames().map { name in
            name.nameType == .ipAddress ? name.contents.withUnsafeBufferPointer { Array($0) } : []
        }
        #expect(ipNames == [[127, 0, 0, 1]])
    }

    @Test func halfAPairIsReportedNotOverwritten() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = CertificateStore(dataDirectory: directory.path)
        let loaded = try store.loadOrGenerate(host: "example.test")
        try FileManager.default.removeItem(atPath: loaded.certificatePath)
        #expect(throws: CertificateStoreError.incompletePair(existing: loaded.keyPath, missing: loaded.certificatePath)) {
            try store.loadOrGenerate(host: "example.test")
        }
        #expect(FileManager.default.fileExists(atPath: loaded.keyPath))
    }

    @Test(arguments: ["", "../etc/passwd", ".hidden", "a/b"])
    func hostNamesThatAreNotFileNamesAreRejected(host: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(throws: CertificateStoreError.invalidHostName(host)) {
            try CertificateStore(dataDirectory: directory.path).loadOrGenerate(host: host)
        }
    }

    // MARK: - tls-server-end-point (RFC 5929 §4.1)

    @Test func bindingOfGeneratedCertificateIsSHA256OfDER() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let identity = try CertificateStore(dataDirectory: directory.path).loadOrGenerate(host: "example.test").identity
        let binding = tlsServerEndPointBinding(leafDER: identity.leafDER)
        // The fingerprint is SHA-256(DER); the generated certificate is ECDSA-SHA256.
        #expect(binding == hexBytes(identity.fingerprintSHA256))

        let contexts = try TLSContexts(identities: ["example.test": identity])
        #expect(contexts.channelBinding(forHost: "example.test") == binding)
        #expect(contexts.channelBinding(forHost: "EXAMPLE.test.") == binding)
    }

    /// Expected values from `openssl x509 -outform DER | openssl dgst -sha256/-sha384/-sha512`.
    @Test(arguments: [
        (Vectors.ecdsaSHA384, "77a7d8c07bb867483bf832c10c5dbad33c1e21853d606ede8d7bf43cd35557959fdf2a2854874c854eb6b3c1201d2665"),
        (Vectors.ecdsaSHA512, "72971b09477566f84184849b5cfe37f0bfabd1bb51d12da1efa11a9d95624d2d46c116357ef7a21c60c877649940c3ea5d631c155327eb4dd21e275e22dd9864"),
        // SHA-1 is replaced by SHA-256.
        (Vectors.ecdsaSHA1, "28d18067ce205c28edb7bd1a6fae3dfc391e0473455229f190d30f0f1fa53157"),
    ])
    func bindingUsesTheSignatureHash(pem: String, expectedHex: String) throws {
        let der = try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem).toDERBytes()
        #expect(tlsServerEndPointBinding(leafDER: der) == hexBytes(expectedHex))
    }

    // MARK: - Contexts

    @Test func contextsResolveHostsAndFallBackToDefault() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = CertificateStore(dataDirectory: directory.path)
        let a = try store.loadOrGenerate(host: "a.test").identity
        let b = try store.loadOrGenerate(host: "b.test").identity
        let contexts = try TLSContexts(identities: ["a.test": a, "b.test": b])
        #expect(contexts.defaultHost == "a.test")
        #expect(contexts.hosts == ["a.test", "b.test"])
        #expect(contexts.context(forHost: "B.test") != nil)
        #expect(contexts.context(forHost: "c.test") == nil)
        #expect(contexts.resolveHost("c.test") == "a.test")
        #expect(contexts.resolveHost(nil) == "a.test")
        #expect(contexts.channelBinding(forHost: "b.test") == tlsServerEndPointBinding(leafDER: b.leafDER))
        #expect(contexts.channelBinding(forHost: "c.test") == tlsServerEndPointBinding(leafDER: a.leafDER))

        #expect(throws: CertificateStoreError.noSuchHost("c.test")) {
            try TLSContexts(identities: ["a.test": a], defaultHost: "c.test")
        }
        #expect(throws: CertificateStoreError.noSuchHost("")) {
            try TLSContexts(identities: [:])
        }
        // A key that does not belong to the certificate is caught at start-up.
        let mismatched = try TLSIdentity(certificateChain: a.certificateChain, privateKey: b.privateKey)
        #expect(throws: CertificateStoreError.self) {
            try TLSContexts(identities: ["a.test": mismatched])
        }
    }

    // MARK: - Direct TLS with SNI over loopback

    @Test func sniPicksEachHostsCertificate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = CertificateStore(dataDirectory: directory.path)
        let a = try store.loadOrGenerate(host: "a.test").identity
        let b = try store.loadOrGenerate(host: "b.test").identity
        let contexts = try TLSContexts(identities: ["a.test": a, "b.test": b], defaultHost: "b.test")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let selected = Recorder()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        makeSNIServerTLSHandler(contexts: contexts) { host in selected.append(host) }
                    )
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let address = try #require(server.localAddress)

        // Each client trusts only the certificate it expects, so a wrong choice fails the handshake.
        for (host, identity) in [("a.test", a), ("b.test", b)] {
            let peer = try await handshake(group: group, to: address, serverHostname: host, pinning: identity)
            #expect(peer == identity.certificateChain[0])
            #expect(selected.last == host)
        }
        // No SNI, and a name the server does not serve: both get the default host, b.test.
        for name in [nil, "c.test"] as [String?] {
            let peer = try await handshake(group: group, to: address, serverHostname: name, pinning: nil)
            #expect(peer == b.certificateChain[0])
            #expect(selected.last == "b.test")
        }
        // The pinning is real: asking for b.test while trusting only a.test's certificate fails.
        await #expect(throws: (any Error).self) {
            _ = try await handshake(group: group, to: address, serverHostname: "b.test", pinning: a)
        }
        #expect(selected.all == ["a.test", "b.test", "b.test", "b.test", "b.test"])

        try await server.close()
        try await group.shutdownGracefully()
    }

    /// Connects, sends "ping" through TLS, waits for the echo, and returns the server's leaf.
    /// With `pinning`, the client verifies the chain against that certificate alone and checks
    /// the host name.
    private func handshake(
        group: EventLoopGroup,
        to address: SocketAddress,
        serverHostname: String?,
        pinning: TLSIdentity?
    ) async throws -> NIOSSLCertificate? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = [TLSContexts.xmppClientALPN]
        if let pinning {
            configuration.trustRoots = .certificates([pinning.certificateChain[0]])
            configuration.certificateVerification = .fullVerification
        } else {
            configuration.certificateVerification = .none
        }
        let sslContext = try NIOSSLContext(configuration: configuration)
        let reply = group.next().makePromise(of: ByteBuffer.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname)
                    )
                    try channel.pipeline.syncOperations.addHandler(FirstReadHandler(promise: reply))
                }
            }
            .connect(to: address)
            .get()
        defer { channel.close(promise: nil) }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(ByteBuffer(string: "ping"), promise: written)
        // The reply carries the handshake error, if any; the write would only say "closed".
        let echoed = try await reply.futureResult.get()
        try await written.futureResult.get()
        #expect(String(buffer: echoed) == "ping")
        return try await channel.nioSSL_peerCertificate().get()
    }
}

// MARK: - Helpers

private func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.filter(\.isHexDigit))
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0 ... $0 + 1]), radix: 16)! }
}

/// A fresh directory; call `remove()` (in a `defer`) when done.
private struct TemporaryDirectory {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("parley-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

private final class Recorder: Sendable {
    private let hosts = Mutex<[String]>([])
    func append(_ host: String) { hosts.withLock { $0.append(host) } }
    var all: [String] { hosts.withLock { $0 } }
    var last: String? { hosts.withLock { $0.last } }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

private final class FirstReadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<ByteBuffer>
    init(promise: EventLoopPromise<ByteBuffer>) { self.promise = promise }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(unwrapInboundIn(data))
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
    }
}

private enum Vectors {
    static let ecdsaSHA384 = """
        -----BEGIN CERTIFICATE-----
        MIIBujCCAUCgAwIBAgIUe6cqL5ikqoO371fA4enKCt2JD6swCgYIKoZIzj0EAwMw
        FDESMBAGA1UEAwwJdjM4NC50ZXN0MB4XDTI2MTEyMTE2NTgyNVoXDTM2MTExODE2
        NTgyNVowFDESMBAGA1UEAwwJdjM4NC50ZXN0MHYwEAYHKoZIzj0CAQYFK4EEACID
        YgAEfAEKcPIRgyRShw6TOKpFVZJGj/QBPIniDz8kUlAmCYFxKax4s8U9g/Il/Snj
        MN6MtwxXtReThGTMPnIPHC4N+T1gGaxWdlvans1uymHvsDEjd5bhoYjmZKAtba+g
        7nLto1MwUTAdBgNVHQ4EFgQUSCP3BfqlWUVVPuTPCTYqeeBXByEwHwYDVR0jBBgw
        FoAUSCP3BfqlWUVVPuTPCTYqeeBXByEwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjO
        PQQDAwNoADBlAjEArhinXTntU3HG6JZy9XdlnnACQ1dnj11Bki+dk1efxGb5VLFE
        sskUaWNcJ2dyB2XBAjANtrACw6GUJY//kz4gdMo3iUbaVRsyLdSaKiunGuxuvxiu
        4qlPew0PBvXcj+JsLVc=
        -----END CERTIFICATE-----
        """
    static let ecdsaSHA512 = """
        -----BEGIN CERTIFICATE-----
        MIIBfDCCASOgAwIBAgIUN1OxSGQQzEyCEoJ7Xeobxm+0cE8wCgYIKoZIzj0EAwQw
        FDESMBAGA1UEAwwJdjUxMi50ZXN0MB4XDTI2MTEyMTE2NTgyNVoXDTM2MTExODE2
        NTgyNVowFDESMBAGA1UEAwwJdjUxMi50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0D
        AQcDQgAE7fXEU51yFaTqX+8oX0ryF5BoC1nyVE6vFfc0Bbc5s+LCITZnzoOSPI5C
        pjlWphUi6L9MbetQynpt0AC3Nxyf+6NTMFEwHQYDVR0OBBYEFGz3liwZHjHIiy3X
        qq22nObYVDw2MB8GA1UdIwQYMBaAFGz3liwZHjHIiy3Xqq22nObYVDw2MA8GA1Ud
        EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwQDRwAwRAIgKBHZSaZKpkou7bQPiLR+1WnZ
        ywJCIjaa8JMxH+6qyl0CIGYyuqswE4em2M8K6M9Ab+30S1haCft38TBiQcCN8wmF
        -----END CERTIFICATE-----
        """
    static let ecdsaSHA1 = """
        -----BEGIN CERTIFICATE-----
        MIIBdzCCAR6gAwIBAgIUNQ0N4bWQhcwiwG1Loa94qqujJ5QwCQYHKoZIzj0EATAS
        MRAwDgYDVQQDDAd2MS50ZXN0MB4XDTI2MTEyMTE2NTgyNVoXDTM2MTExODE2NTgy
        NVowEjEQMA4GA1UEAwwHdjEudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IA
        BO31xFOdchWk6l/vKF9K8heQaAtZ8lROrxX3NAW3ObPiwiE2Z86DkjyOQqY5VqYV
        Iui/TG3rUMp6bdAAtzccn/ujUzBRMB0GA1UdDgQWBBRs95YsGR4xyIst16qttpzm
        2FQ8NjAfBgNVHSMEGDAWgBRs95YsGR4xyIst16qttpzm2FQ8NjAPBgNVHRMBAf8E
        BTADAQH/MAkGByqGSM49BAEDSAAwRQIhAMlsc10kr69+imBvzgVtEDNbFsdTIjpn
        DsJj0IeLTeMIAiA7R7WPB8+uTNOq8tSPygc/2nJasTxvvXl0228K26osRQ==
        -----END CERTIFICATE-----
        """
}
