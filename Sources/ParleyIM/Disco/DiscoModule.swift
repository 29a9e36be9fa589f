import ParleyKernel
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Service discovery (XEP-0030) with extended information (XEP-0128) for the server and its accounts.
///
/// What the server lists is read from the kernel when a request comes in, so modules registered
/// after this one are included.
public struct DiscoModule: Module {
    public let name = "disco"
    /// The name of the server's `server/im` identity.
    public let serverName: String
    private let canSeePresence: (@Sendable (_ requester: JID, _ account: JID) async -> Bool)?

    /// - Parameters:
    ///   - serverName: shown as the name of the server's identity.
    ///   - canSeePresence: whether `requester` may see the presence of `account` (a subscription of
    ///     type from or both, RFC 6121 §3). Without it, only an account itself learns its disco#info.
    public init(serverName: String = "Parley",
                canSeePresence: (@Sendable (_ requester: JID, _ account: JID) async -> Bool)? = nil) {
        self.serverName = serverName
        self.canSeePresence = canSeePresence
    }

    public func register(in registrar: ModuleRegistrar) {
        registrar.advertise(identity: DiscoIdentity(category: "server", type: "im", name: serverName))
        for target in [IQTarget.server, .account] {
            // XEP-0030 §3.1: every entity supports disco#info.
            registrar.advertise(feature: ServiceDiscoveryInfo.namespace, on: target)
            registrar.advertise(feature: ServiceDiscoveryInfo.itemsNamespace, on: target)
        }

        registrar.handleIQ("query", namespace: ServiceDiscoveryInfo.namespace, types: [.get], target: .server) {
            [unowned kernel = registrar.kernel] request in
            // Nodes are not served (the caps node is answered by the caps module before this).
            if let node = request.payload[attribute: "node"] { return .failure(Self.unknownNode(node)) }
            return .success(Self.serverInfo(of: kernel).query())
        }
        registrar.handleIQ("query", namespace: ServiceDiscoveryInfo.itemsNamespace, types: [.get], target: .server) { request in
            if let node = request.payload[attribute: "node"] { return .failure(Self.unknownNode(node)) }
            // No components or other items yet: an entity without items returns an empty query (§4.1).
            return .success(XElement("query", namespace: ServiceDiscoveryInfo.itemsNamespace))
        }

        let canSeePresence = self.canSeePresence
        registrar.handleIQ("query", namespace: ServiceDiscoveryInfo.namespace, types: [.get], target: .account) {
            [unowned kernel = registrar.kernel] request in
            // XEP-0030 §8 rule 1.2: only entities allowed to see the account's presence learn about it;
            // everyone else gets service-unavailable, as if the account did not exist.
            let account = request.to.bare
            var allowed = request.from.bare == account
            if !allowed, let canSeePresence { allowed = await canSeePresence(request.from, account) }
            guard allowed else { return .failure(StanzaError(.serviceUnavailable)) }
            if let node = request.payload[attribute: "node"] { return .failure(Self.unknownNode(node)) }
            // §3.1: the account's primary identity is account/registered.
            let info = ServiceDiscoveryInfo(
                identities: [.init(category: "account", type: "registered")], features: kernel.accountFeatures)
            return .success(info.query())
        }
        registrar.handleIQ("query", namespace: ServiceDiscoveryInfo.itemsNamespace, types: [.get], target: .account) { request in
            if let node = request.payload[attribute: "node"] { return .failure(Self.unknownNode(node)) }
            // §8 rule 2: no items (available resources are not listed), which is also the answer to
            // requesters that may not see the account's presence.
            return .success(XElement("query", namespace: ServiceDiscoveryInfo.itemsNamespace))
        }
    }

    /// The server's disco#info, read from what modules registered.
    static func serverInfo(of kernel: Kernel) -> ServiceDiscoveryInfo {
        ServiceDiscoveryInfo(
            identities: kernel.serverIdentities.map { .init(category: $0.category, type: $0.type, name: $0.name) },
            features: kernel.serverFeatures,
            forms: kernel.serverExtensions)
    }

    private static func unknownNode(_ node: String) -> StanzaError {
        // XEP-0030 §7: a JID+node that does not exist.
        StanzaError(.itemNotFound, text: "no such node")
    }
}
