import Logging
import NIOCore
import NIOSSL
import ParleyConfig
import ParleyKernel
import ParleyListeners
import ParleyNIO
import XMPPSASL
import XMPPStream
import XMPPXML

extension ParleyServer {
    /// The configured CA bundle, or the system's; a missing system bundle leaves dialback as the only way in.
    func loadTrustRoots(_ s2s: S2SConfig) throws -> TrustRoots {
        let result = Result { () throws(TrustRootsError) -> TrustRoots in try TrustRoots(pemFile: s2s.effectiveCAFile) }
        switch result {
        case .success(let roots):
            return roots
        case .failure(let error):
            guard s2s.caFile == nil else { throw error }
            logger.warning("no CA bundle; no peer certificate can be validated", metadata: ["path": "\(s2s.effectiveCAFile)", "error": "\(error)"])
            return TrustRoots(certificates: [])
        }
    }

    /// Builds federation (RFC 6120 s2s) from the configuration and attaches it to the kernel.
    func makeFederation(kernel: Kernel, identities: [String: TLSIdentity], group: any EventLoopGroup) throws -> S2SLinkManager {
        let s2s = config.s2s
        var serverTLS: [String: NIOSSLContext] = [:]
        var clientTLS: [String: NIOSSLContext] = [:]
        for (host, identity) in identities {
            serverTLS[host] = try makeS2SServerContext(identity: identity)
            clientTLS[host] = try makeS2SClientContext(identity: identity)
        }
        let roots = try loadTrustRoots(s2s)
        var secret = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in secret.indices { secret[index] = generator.next() }
        let configuration = S2SConfiguration(
            hosts: kernel.hosts, tlsAvailable: true, tlsRequired: s2s.requireTLS,
            allowDialback: s2s.policy == .allowDialback, dialbackKey: DialbackKey(secret: secret))
        var overrides: [String: [S2SEndpoint]] = [:]
        for (domain, endpoints) in s2s.overrides {
            overrides[domain] = endpoints.map { S2SEndpoint(host: $0.host, port: $0.port, directTLS: $0.directTLS) }
        }
        let limits = S2SLimits(
            stream: XMLStreamLimits(maxTokenBytes: config.limits.maxTagSize, maxElementBytes: s2s.maxStanzaSize, maxDepth: config.limits.maxDepth),
            connectTimeout: s2s.connectTimeout, setupTimeout: s2s.timeout, idleTimeout: s2s.idleTimeout,
            maxQueuedStanzas: s2s.maxQueuedStanzas, maxInboundConnectionsPerDomain: s2s.maxConnectionsPerDomain)
        let context = S2SServerContext(
            kernel: kernel, configuration: configuration, serverTLS: serverTLS, clientTLS: clientTLS,
            verifier: PeerCertificateVerifier(roots: roots),
            resolver: S2SEndpointResolver(resolver: SystemDNSResolver(), overrides: overrides),
            limits: limits, domainPolicies: s2s.domainPolicies.mapValues { $0 == .allowDialback }, logger: logger)
        let links = S2SLinkManager(server: context, group: group)
        kernel.attach(remote: links)
        return links
    }
}
