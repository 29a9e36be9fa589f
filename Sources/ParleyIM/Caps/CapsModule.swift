import ParleyKernel
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// XEP-0115 for the server itself: its verification string, offered as a stream feature (§6.3),
/// and the disco#info query on `<node>#<ver>` answered like the plain one (§6.2).
///
/// The `ver` covers everything modules registered, so it is only complete once the kernel is built:
/// offer `streamFeature(for:)` to clients after constructing the kernel, not from `register`.
public struct CapsModule: Module {
    public static let defaultNode = "https://parley.example/caps"
    public let name = "caps"
    /// The caps `node`: a URL identifying the software (XEP-0115 §4).
    public let node: String

    public init(node: String = CapsModule.defaultNode) {
        self.node = node
    }

    public func register(in registrar: ModuleRegistrar) {
        // XEP-0115 §7: an entity that supports caps says so.
        registrar.advertise(feature: EntityCapabilities.namespace)
        let node = self.node
        registrar.onInbound(priority: 100, immediate: { inbound in
            Self.requestedNode(inbound, under: node) == nil ? .pass : .suspend
        }) { [unowned kernel = registrar.kernel] inbound in
            let stanza = inbound.stanza
            guard let requested = Self.requestedNode(inbound, under: node) else { return .pass }
            let info = Self.serverInfo(of: kernel)
            // Only the current ver is ours; an old one is an unknown node for the disco module to refuse.
            guard requested == node + "#" + EntityCapabilities.verificationString(of: info) else { return .pass }
            // XEP-0030 §3.2: the node is mirrored.
            await kernel.send(stanza.iqResult(payload: info.query(node: requested), from: inbound.to.description))
            return .handled
        }
    }

    /// The node of a disco#info query to the server for one of `node`'s verification strings.
    private static func requestedNode(_ inbound: InboundStanza, under node: String) -> String? {
        let stanza = inbound.stanza
        guard stanza.kind == .iq, stanza.type == "get", inbound.to.localpart == nil,
              let query = stanza.element.elements.first,
              query.name == "query", query.namespace == ServiceDiscoveryInfo.namespace,
              let requested = query[attribute: "node"], requested.hasPrefix(node + "#") else { return nil }
        return requested
    }

    /// What the server's disco#info lists (XEP-0030): the identities, features and forms modules registered.
    public static func serverInfo(of kernel: Kernel) -> ServiceDiscoveryInfo {
        ServiceDiscoveryInfo(
            identities: kernel.serverIdentities.map { .init(category: $0.category, type: $0.type, name: $0.name) },
            features: kernel.serverFeatures,
            forms: kernel.serverExtensions)
    }

    /// The server's verification string (XEP-0115 §5.1).
    public func verificationString(for kernel: Kernel) -> String {
        EntityCapabilities.verificationString(of: Self.serverInfo(of: kernel))
    }

    /// `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node=… ver=…/>` for the stream features (XEP-0115 §6.3).
    public func streamFeature(for kernel: Kernel) -> XElement {
        XElement("c", namespace: EntityCapabilities.namespace, [
            "hash": EntityCapabilities.hashName, "node": node, "ver": verificationString(for: kernel),
        ])
    }
}
