import Logging
import NIOCore
import NIOSSL
import ParleyKernel
import ParleyNIO
import XMPPStream
import XMPPXML

/// Everything server-to-server connections share.
public struct S2SServerContext: Sendable {
    public var kernel: Kernel
    public var configuration: S2SConfiguration
    /// Per local host: the context for accepting TLS (requests a client certificate) and for connecting.
    public var serverTLS: [String: NIOSSLContext]
    public var clientTLS: [String: NIOSSLContext]
    public var verifier: PeerCertificateVerifier
    public var resolver: S2SEndpointResolver
    public var limits: S2SLimits
    /// Domains whose policy differs from the default (`configuration.allowDialback`).
    public var domainPolicies: [String: Bool]
    public var logger: Logger

    public init(kernel: Kernel, configuration: S2SConfiguration, serverTLS: [String: NIOSSLContext], clientTLS: [String: NIOSSLContext],
                verifier: PeerCertificateVerifier, resolver: S2SEndpointResolver, limits: S2SLimits,
                domainPolicies: [String: Bool] = [:], logger: Logger) {
        self.kernel = kernel
        self.configuration = configuration
        self.serverTLS = serverTLS
        self.clientTLS = clientTLS
        self.verifier = verifier
        self.resolver = resolver
        self.limits = limits
        self.domainPolicies = domainPolicies
        self.logger = logger
    }

    /// The configuration with the dialback policy that applies to `remote`.
    func configuration(for remote: String) -> S2SConfiguration {
        var configuration = configuration
        if let allow = domainPolicies[remote] { configuration.allowDialback = allow }
        return configuration
    }
}

public struct S2SLimits: Sendable {
    public var stream: XMLStreamLimits
    public var connectTimeout: Double
    /// Seconds a link may take to become ready before its queued stanzas bounce (remote-server-timeout).
    public var setupTimeout: Double
    public var idleTimeout: Double
    public var maxQueuedStanzas: Int
    /// Incoming connections one remote domain may hold open at once.
    public var maxInboundConnectionsPerDomain: Int

    public init(stream: XMLStreamLimits = XMLStreamLimits(maxElementBytes: 262_144), connectTimeout: Double = 10,
                setupTimeout: Double = 30, idleTimeout: Double = 300, maxQueuedStanzas: Int = 1000,
                maxInboundConnectionsPerDomain: Int = 4) {
        self.stream = stream
        self.connectTimeout = connectTimeout
        self.setupTimeout = setupTimeout
        self.idleTimeout = idleTimeout
        self.maxQueuedStanzas = maxQueuedStanzas
        self.maxInboundConnectionsPerDomain = maxInboundConnectionsPerDomain
    }
}

/// Writes stream output for server streams (the `db:` prefix is declared on the header).
enum S2SWriter {
    static let serializer = XMLSerializer(declaredPrefixes: [XMLNamespace.streams: "stream", "jabber:server:dialback": "db"])

    static func render(_ element: XElement) -> String {
        serializer.serialize(element, inheritedNamespace: "jabber:server")
    }

    /// The same markup appended to `buffer` (allocated when nil), through the loop's encoder.
    static func encode(_ element: XElement, appendingTo buffer: inout ByteBuffer?, allocator: ByteBufferAllocator, on eventLoop: any EventLoop) {
        ElementEncoder.current(on: eventLoop).encode(element, with: serializer, inheritedNamespace: "jabber:server",
                                                     appendingTo: &buffer, allocator: allocator)
    }
}
