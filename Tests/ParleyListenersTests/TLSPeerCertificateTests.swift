import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ParleyNIO
import SwiftASN1
import Synchronization
import Testing
import X509

/// s2s peer certificates (RFC 6120 §13.7.2, XEP-0178): trust roots, chain evaluation, name
/// extraction, and real TLS handshakes over loopback with the recording verification callback.
@Suite("TLS peer certificates for s2s")
struct TLSPeerCertificateTests {
    static let now = Date()

    // MARK: - Trust roots

    @Test func trustRootsLoadEveryCertificateOfABundle() throws {
        let a = try TestPKI.makeCA("Root A")
        let b = try TestPKI.makeCA("Root B")
        let file = try TestPKIFile(
            contents: "junk before\n" + (try a.certificate.serializeAsPEM().pemString) + "\n"
                + "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
                + (try b.certificate.serializeAsPEM().pemString) + "\n"
        )
        defer { file.remove() }
        let roots = try TrustRoots(pemFile: file.path)
        #expect(roots.certificates == [a.certificate, b.certificate])
        #expect(roots.skippedCount == 1)
        #expect(roots.path == file.path)
        #expect(try roots.makeNIOSSLCertificates().count == 2)
    }

    @Test func unreadableOrEmptyBundlesAreClearErrors() throws {
        let missing = "/nonexistent/parley-\(UUID().uuidString).pem"
        let error = #expect(throws: TrustRootsError.self) { try TrustRoots(pemFile: missing) }
        guard case .unreadable(let path, _) = error else {
            Issue.record("expected .unreadable, got \(String(describing: error))")
            return
        }
        #expect(path == missing)
        #expect("\(error!)".contains(missing))
        for contents in ["", "hello\n", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            let file = try TestPKIFile(contents: contents)
            defer { file.remove() }
            #expect(throws: TrustRootsError.noCertificates(path: file.path)) {
                try TrustRoots(pemFile: file.path)
            }
        }
    }

    @Test(.enabled(if: FileManager.default.isReadableFile(atPath: TrustRoots.systemBundlePath)))
    func systemBundleLoads() throws {
        let roots = try TrustRoots()
        #expect(roots.certificates.count > 10)
        #expect(roots.path == TrustRoots.systemBundlePath)
    }

    // MARK: - Names

    @Test func namesAreReadFromTheLeaf() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let leaf = try TestPKI.makeLeaf(
            issuer: ca,
            commonName: "b.example.test",
            names: [
                .dnsName("b.example.test"),
                .dnsName("*.example.test"),
                TestPKI.xmppAddr("b.example.test"),
                TestPKI.srvName("_xmpp-server.b.example.test"),
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .rfc822Name("admin@b.example.test"),
            ]
        )
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let info = await verifier.evaluate(chain: [try leaf.nioCertificate()])
        #expect(info == PeerCertificateInfo(
            chainTrusted: true,
            dnsNames: ["b.example.test", "*.example.test"],
            srvNames: ["_xmpp-server.b.example.test"],
            xmppAddrs: ["b.example.test"],
            commonNames: ["b.example.test"]
        ))
        #expect(info.isValid(for: "b.example.test"))
        #expect(info.isValid(for: "c.example.test"))  // the wildcard
        #expect(!info.isValid(for: "example.test"))
    }

    @Test func eachSubjectAltNameTypeAuthenticatesOnItsOwn() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let cases: [(GeneralName, Bool)] = [
            (.dnsName("b.example.test"), true),
            (.dnsName("*.example.test"), true),
            (TestPKI.xmppAddr("b.example.test"), true),
            (TestPKI.srvName("_xmpp-server.b.example.test"), true),
            (TestPKI.srvName("_xmpp-client.b.example.test"), false),
            (.dnsName("other.test"), false),
        ]
        for (name, expected) in cases {
            // The CN names the domain too, but a SAN is present, so the CN must not count.
            let leaf = try TestPKI.makeLeaf(issuer: ca, commonName: "b.example.test", names: [name])
            let info = await verifier.evaluate(chain: [try leaf.nioCertificate()])
            #expect(info.chainTrusted)
            #expect(info.isValid(for: "b.example.test") == expected, "\(name)")
        }
    }

    @Test func commonNameCountsOnlyWithoutSubjectAltName() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let bare = try TestPKI.makeLeaf(issuer: ca, commonName: "b.example.test", names: nil)
        let info = await verifier.evaluate(chain: [try bare.nioCertificate()])
        #expect(info.commonNames == ["b.example.test"])
        #expect(info.dnsNames.isEmpty && info.srvNames.isEmpty && info.xmppAddrs.isEmpty)
        #expect(info.isValid(for: "b.example.test"))

        let withURI = try TestPKI.makeLeaf(
            issuer: ca, commonName: "b.example.test", names: [.uniformResourceIdentifier("xmpp:b.example.test")]
        )
        let uriInfo = await verifier.evaluate(chain: [try withURI.nioCertificate()])
        #expect(uriInfo.uris == ["xmpp:b.example.test"])
        #expect(!uriInfo.isValid(for: "b.example.test"))
    }

    @Test func malformedXmppAddrAuthenticatesNothing() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        // An xmppAddr that is an IA5String instead of the UTF8String RFC 6120 §13.7.1.4 requires.
        let wrong = GeneralName.otherName(.init(
            typeID: [1, 3, 6, 1, 5, 5, 7, 8, 5], value: try ASN1Any(erasing: ASN1IA5String("b.example.test"))
        ))
        let leaf = try TestPKI.makeLeaf(issuer: ca, commonName: "b.example.test", names: [wrong])
        let info = await PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
            .evaluate(chain: [try leaf.nioCertificate()])
        #expect(!info.chainTrusted)
        #expect(info.failure?.contains("xmppAddr") == true)
        #expect(!info.isValid(for: "b.example.test"))
    }

    // MARK: - Chains

    @Test func caIssuedChainIsTrusted() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let leaf = try TestPKI.makeLeaf(issuer: ca, names: [.dnsName("b.example.test")])
        let info = await PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
            .evaluate(chain: [try leaf.nioCertificate()])
        #expect(info.chainTrusted)
        #expect(info.failure == nil)
        #expect(info.isValid(for: "b.example.test"))
    }

    @Test func intermediatesSentByThePeerAreUsed() async throws {
        let root = try TestPKI.makeCA("Parley Test Root")
        let intermediate = try TestPKI.makeCA("Parley Test Intermediate", issuer: root)
        let leaf = try TestPKI.makeLeaf(issuer: intermediate, names: [.dnsName("b.example.test")])
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [root.certificate]))

        let full = await verifier.evaluate(chain: [try leaf.nioCertificate(), try intermediate.nioCertificate()])
        #expect(full.isValid(for: "b.example.test"))

        let leafOnly = await verifier.evaluate(chain: [try leaf.nioCertificate()])
        #expect(!leafOnly.chainTrusted)
        #expect(leafOnly.failure != nil)
    }

    @Test func selfSignedNotAmongRootsIsUntrusted() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let selfSigned = try TestPKI.makeLeaf(issuer: nil, commonName: "b.example.test", names: [.dnsName("b.example.test")])
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let info = await verifier.evaluate(chain: [try selfSigned.nioCertificate()])
        #expect(!info.chainTrusted)
        #expect(info.failure?.contains("self-signed") == true)
        #expect(info.dnsNames == ["b.example.test"])
        #expect(info.identityMatches("b.example.test"))
        #expect(!info.isValid(for: "b.example.test"))

        // Pinned: the same certificate as a root is trusted.
        let pinned = PeerCertificateVerifier(roots: TrustRoots(certificates: [selfSigned.certificate]))
        let pinnedInfo = await pinned.evaluate(chain: [try selfSigned.nioCertificate()])
        #expect(pinnedInfo.isValid(for: "b.example.test"), "\(pinnedInfo)")
    }

    @Test func expiredAndNotYetValidCertificatesAreUntrusted() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let expired = try TestPKI.makeLeaf(
            issuer: ca,
            names: [.dnsName("b.example.test")],
            notBefore: Self.now.addingTimeInterval(-10 * 86400),
            notAfter: Self.now.addingTimeInterval(-86400)
        )
        let expiredInfo = await verifier.evaluate(chain: [try expired.nioCertificate()], now: Self.now)
        #expect(!expiredInfo.chainTrusted)
        #expect(expiredInfo.failure?.contains("expired") == true)
        #expect(!expiredInfo.isValid(for: "b.example.test"))
        // The clock is the verifier's: back then, the same certificate was fine.
        let earlier = await verifier.evaluate(chain: [try expired.nioCertificate()], now: Self.now.addingTimeInterval(-5 * 86400))
        #expect(earlier.isValid(for: "b.example.test"))

        let future = try TestPKI.makeLeaf(
            issuer: ca,
            names: [.dnsName("b.example.test")],
            notBefore: Self.now.addingTimeInterval(86400),
            notAfter: Self.now.addingTimeInterval(10 * 86400)
        )
        let futureInfo = await verifier.evaluate(chain: [try future.nioCertificate()], now: Self.now)
        #expect(!futureInfo.chainTrusted)
        #expect(futureInfo.failure?.contains("not valid before") == true)
    }

    @Test func certificateFromAnotherCAIsUntrusted() async throws {
        let trusted = try TestPKI.makeCA("Parley Test CA")
        let other = try TestPKI.makeCA("Other CA")
        // Same name as the trusted CA, different key: the signature check must catch it.
        let impostor = try TestPKI.makeCA("Parley Test CA")
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [trusted.certificate]))
        for issuer in [other, impostor] {
            let leaf = try TestPKI.makeLeaf(issuer: issuer, names: [.dnsName("b.example.test")])
            let info = await verifier.evaluate(chain: [try leaf.nioCertificate(), try issuer.nioCertificate()])
            #expect(!info.chainTrusted)
            #expect(info.failure != nil)
            #expect(!info.isValid(for: "b.example.test"))
        }
    }

    @Test func emptyChainIsReportedNotThrown() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let info = await PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate])).evaluate(chain: [])
        #expect(!info.chainTrusted)
        #expect(info.failure != nil)
    }

    // MARK: - Handshakes over loopback

    @Test func bothSidesRecordEachOthersCertificate() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let serverLeaf = try TestPKI.makeLeaf(issuer: ca, commonName: "a.example.test", names: [.dnsName("a.example.test")])
        let clientLeaf = try TestPKI.makeLeaf(
            issuer: ca,
            commonName: "b.example.test",
            names: [.dnsName("b.example.test"), TestPKI.xmppAddr("b.example.test")]
        )
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let loop = try await TestS2SLoopback.start(serverIdentity: try serverLeaf.identity(), verifier: verifier)

        let clientRecorder = PeerCertificateRecorder()
        let clientContext = try makeS2SClientContext(identity: try clientLeaf.identity())
        try await loop.ping(
            serverHostname: "a.example.test",
            makeHandler: {
                try makeS2SClientHandler(
                    context: clientContext, serverHostname: "a.example.test", recorder: clientRecorder, verifier: verifier
                )
            }
        )

        // The accepting server saw our client certificate: SASL EXTERNAL for b.example.test may proceed.
        let serverSaw = try #require(loop.lastServerRecorder?.info)
        #expect(serverSaw.chainTrusted)
        #expect(serverSaw.isValid(for: "b.example.test"))
        #expect(serverSaw.xmppAddrs == ["b.example.test"])
        #expect(!serverSaw.isValid(for: "a.example.test"))

        // The initiating side saw the server's certificate.
        let clientSaw = try #require(clientRecorder.info)
        #expect(clientSaw.isValid(for: "a.example.test"))
        #expect(!clientSaw.isValid(for: "b.example.test"))

        try await loop.stop()
    }

    @Test func peerWithoutCertificateStillConnects() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let serverLeaf = try TestPKI.makeLeaf(issuer: ca, names: [.dnsName("a.example.test")])
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let loop = try await TestS2SLoopback.start(serverIdentity: try serverLeaf.identity(), verifier: verifier)

        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let plainContext = try NIOSSLContext(configuration: configuration)
        try await loop.ping(
            serverHostname: "a.example.test",
            makeHandler: { try NIOSSLClientHandler(context: plainContext, serverHostname: "a.example.test") }
        )
        let serverRecorder = try #require(loop.lastServerRecorder)
        #expect(serverRecorder.info == nil)  // dialback or nothing for this peer

        try await loop.stop()
    }

    @Test func untrustedClientCertificateStillConnectsButIsNotValid() async throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let serverLeaf = try TestPKI.makeLeaf(issuer: ca, names: [.dnsName("a.example.test")])
        let selfSigned = try TestPKI.makeLeaf(issuer: nil, commonName: "b.example.test", names: [.dnsName("b.example.test")])
        let verifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [ca.certificate]))
        let loop = try await TestS2SLoopback.start(serverIdentity: try serverLeaf.identity(), verifier: verifier)

        let clientRecorder = PeerCertificateRecorder()
        let clientContext = try makeS2SClientContext(identity: try selfSigned.identity())
        try await loop.ping(
            serverHostname: "a.example.test",
            makeHandler: {
                try makeS2SClientHandler(
                    context: clientContext, serverHostname: "a.example.test", recorder: clientRecorder, verifier: verifier
                )
            }
        )
        let serverSaw = try #require(loop.lastServerRecorder?.info)
        #expect(!serverSaw.chainTrusted)
        #expect(serverSaw.failure != nil)
        #expect(serverSaw.identityMatches("b.example.test"))
        #expect(!serverSaw.isValid(for: "b.example.test"))

        // And the other way round: a server whose certificate we do not trust is recorded, not refused.
        let strictVerifier = PeerCertificateVerifier(roots: TrustRoots(certificates: [selfSigned.certificate]))
        let strictRecorder = PeerCertificateRecorder()
        try await loop.ping(
            serverHostname: "a.example.test",
            makeHandler: {
                try makeS2SClientHandler(
                    context: clientContext, serverHostname: "a.example.test", recorder: strictRecorder, verifier: strictVerifier
                )
            }
        )
        let clientSaw = try #require(strictRecorder.info)
        #expect(!clientSaw.chainTrusted)
        #expect(!clientSaw.isValid(for: "a.example.test"))

        try await loop.stop()
    }

    @Test func contextsRejectAMismatchedKey() throws {
        let ca = try TestPKI.makeCA("Parley Test CA")
        let a = try TestPKI.makeLeaf(issuer: ca, names: [.dnsName("a.example.test")])
        let b = try TestPKI.makeLeaf(issuer: ca, names: [.dnsName("b.example.test")])
        let mismatched = try TLSIdentity(
            certificateChain: [try a.nioCertificate()],
            privateKey: try b.identity().privateKey
        )
        #expect(throws: CertificateStoreError.self) { try makeS2SServerContext(identity: mismatched) }
    }
}

// MARK: - Test PKI

/// Certificates made at run time with swift-certificates: P-256 keys, ECDSA-SHA256.
private enum TestPKI {
    struct Issued {
        let certificate: Certificate
        let key: P256.Signing.PrivateKey

        func nioCertificate() throws -> NIOSSLCertificate {
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
        }

        func identity() throws -> TLSIdentity {
            try TLSIdentity(
                certificateChain: [try nioCertificate()],
                privateKey: try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)
            )
        }
    }

    static func makeCA(_ name: String, issuer: Issued? = nil) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Parley tests")
            CommonName(name)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: TLSPeerCertificateTests.now.addingTimeInterval(-30 * 86400),
            notValidAfter: TLSPeerCertificateTests.now.addingTimeInterval(365 * 86400),
            issuer: issuer?.certificate.subject ?? subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(issuer?.key ?? key)
        )
        return Issued(certificate: certificate, key: key)
    }

    /// A server certificate; self-signed when `issuer` is nil. `names == nil` leaves out the
    /// subjectAltName extension entirely.
    static func makeLeaf(
        issuer: Issued?,
        commonName: String? = nil,
        names: [GeneralName]?,
        notBefore: Date = TLSPeerCertificateTests.now.addingTimeInterval(-3600),
        notAfter: Date = TLSPeerCertificateTests.now.addingTimeInterval(30 * 86400)
    ) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Parley tests")
            if let commonName { CommonName(commonName) }
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            if let names { SubjectAlternativeNames(names) }
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: issuer?.certificate.subject ?? subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(issuer?.key ?? key)
        )
        return Issued(certificate: certificate, key: key)
    }

    /// id-on-xmppAddr (RFC 6120 §13.7.1.4): UTF8String.
    static func xmppAddr(_ jid: String) -> GeneralName {
        .otherName(.init(typeID: [1, 3, 6, 1, 5, 5, 7, 8, 5], value: try! ASN1Any(erasing: ASN1UTF8String(jid))))
    }

    /// id-on-dnsSRV (RFC 4985): IA5String.
    static func srvName(_ name: String) -> GeneralName {
        .otherName(.init(typeID: [1, 3, 6, 1, 5, 5, 7, 8, 7], value: try! ASN1Any(erasing: ASN1IA5String(name))))
    }
}

private struct TestPKIFile {
    let path: String
    init(contents: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("parley-roots-\(UUID().uuidString).pem").path
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

// MARK: - Loopback s2s TLS

/// A server that accepts TLS with ``makeS2SServerHandler(context:recorder:verifier:now:)`` and
/// echoes; one recorder per accepted connection.
private final class TestS2SLoopback: Sendable {
    let group: MultiThreadedEventLoopGroup
    let server: Channel
    let address: SocketAddress
    private let accepted: TestRecorderList

    private init(group: MultiThreadedEventLoopGroup, server: Channel, accepted: TestRecorderList) {
        self.group = group
        self.server = server
        self.address = server.localAddress!
        self.accepted = accepted
    }

    /// The recorder of the most recently accepted connection.
    var lastServerRecorder: PeerCertificateRecorder? { accepted.last }

    static func start(serverIdentity: TLSIdentity, verifier: PeerCertificateVerifier) async throws -> TestS2SLoopback {
        let context = try makeS2SServerContext(identity: serverIdentity)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let accepted = TestRecorderList()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let recorder = PeerCertificateRecorder()
                    accepted.append(recorder)
                    try channel.pipeline.syncOperations.addHandler(
                        makeS2SServerHandler(context: context, recorder: recorder, verifier: verifier)
                    )
                    try channel.pipeline.syncOperations.addHandler(TestEchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TestS2SLoopback(group: group, server: server, accepted: accepted)
    }

    /// Connects with the handler `makeHandler` builds, sends "ping" through TLS and waits for the
    /// echo, so both handshakes (and both verification callbacks) are complete on return.
    func ping(serverHostname: String, makeHandler: @escaping @Sendable () throws -> NIOSSLClientHandler) async throws {
        let reply = group.next().makePromise(of: ByteBuffer.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try makeHandler())
                    try channel.pipeline.syncOperations.addHandler(TestFirstReadHandler(promise: reply))
                }
            }
            .connect(to: address)
            .get()
        defer { channel.close(promise: nil) }
        channel.writeAndFlush(ByteBuffer(string: "ping"), promise: nil)
        let echoed = try await reply.futureResult.get()
        #expect(String(buffer: echoed) == "ping")
    }

    func stop() async throws {
        try await server.close()
        try await group.shutdownGracefully()
    }
}

private final class TestRecorderList: Sendable {
    private let recorders = Mutex<[PeerCertificateRecorder]>([])
    func append(_ recorder: PeerCertificateRecorder) { recorders.withLock { $0.append(recorder) } }
    var last: PeerCertificateRecorder? { recorders.withLock { $0.last } }
}

private final class TestEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

private final class TestFirstReadHandler: ChannelInboundHandler {
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
