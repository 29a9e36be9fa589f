import Logging
import NIOCore
import NIOPosix
import ParleyKernel
import Synchronization
import XMPPAddress
import XMPPProtocol
import XMPPStream

/// Outgoing server-to-server links, one per (local domain, remote domain) pair, created on demand.
/// The kernel hands it every stanza for a domain we do not host (RFC 6120 §10.4).
public final class S2SLinkManager: RemoteRouter {
    let server: S2SServerContext
    let group: any EventLoopGroup
    public let registry = S2SLinkRegistry()
    /// Incoming connections per remote domain, against `S2SLimits.maxInboundConnectionsPerDomain`.
    private let inboundPerDomain = Mutex<[String: Int]>([:])
    private let links = Mutex<[DomainPair: OutboundLink]>([:])
    /// XEP-0288: incoming bidirectional streams we may send on, by (local, remote) pair.
    private let reverseRoutes = Mutex<[DomainPair: ReverseRoute]>([:])
    private let accepting = Atomic<Bool>(true)

    public init(server: S2SServerContext, group: any EventLoopGroup) {
        self.server = server
        self.group = group
    }

    public func send(_ stanza: Stanza, to domain: String) {
        guard let fromString = stanza.fromString, let from = try? JID(fromString), server.kernel.isLocal(from) else {
            server.logger.debug("not sending a stanza whose from is not ours to a remote domain", metadata: ["to": "\(domain)"])
            return
        }
        guard accepting.load(ordering: .relaxed) else {
            server.kernel.bounce(stanza, StanzaError(.remoteServerNotFound, text: "the server is shutting down"))
            return
        }
        let pair = DomainPair(remote: domain, local: from.domainpart)
        // XEP-0288: when the peer opened a bidirectional stream to us, and we have no link of our
        // own, its stream carries our stanzas too: no second connection.
        let reverse = reverseRoutes.withLock { $0[pair] }
        if let reverse, !hasLiveLink(pair) {
            reverse.send(stanza)
            return
        }
        link(for: pair).enqueue(stanza)
    }

    private func hasLiveLink(_ pair: DomainPair) -> Bool {
        links.withLock { table in table[pair].map { !$0.isFinished } ?? false }
    }

    func addReverseRoute(_ route: ReverseRoute) {
        reverseRoutes.withLock { $0[route.pair] = route }
    }

    func removeReverseRoute(_ route: ReverseRoute) {
        reverseRoutes.withLock { table in
            if table[route.pair] === route { table[route.pair] = nil }
        }
    }

    /// XEP-0220 §2.1.2: asks `remote`'s authoritative server whether a key it gave us is genuine;
    /// nil when it could not be asked.
    func verify(remote: String, local: String, key: String, streamID: String) async -> Bool? {
        await link(for: DomainPair(remote: remote, local: local)).verify(id: streamID, key: key)
    }

    private func link(for pair: DomainPair) -> OutboundLink {
        links.withLock { table in
            if let existing = table[pair], !existing.isFinished { return existing }
            let link = OutboundLink(pair: pair, eventLoop: group.next(), manager: self)
            table[pair] = link
            return link
        }
    }

    func finished(_ link: OutboundLink) {
        links.withLock { table in
            if table[link.pair] === link { table[link.pair] = nil }
        }
    }

    /// Counts an incoming connection for `domain`; false when the domain already holds the most allowed.
    func admitInbound(from domain: String) -> Bool {
        inboundPerDomain.withLock { table in
            guard table[domain, default: 0] < server.limits.maxInboundConnectionsPerDomain else { return false }
            table[domain, default: 0] += 1
            return true
        }
    }

    func releaseInbound(from domain: String) {
        inboundPerDomain.withLock { table in
            let remaining = table[domain, default: 1] - 1
            table[domain] = remaining > 0 ? remaining : nil
        }
    }

    /// Closes every link (shutdown).
    public func closeAll() {
        accepting.store(false, ordering: .relaxed)
        let all = links.withLock { Array($0.values) }
        for link in all { link.close() }
    }
}
