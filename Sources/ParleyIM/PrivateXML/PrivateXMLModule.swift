import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Private XML storage (XEP-0049): an account keeps arbitrary XML on its server, keyed by the
/// name and namespace of each stored element; only the account itself reads or writes it.
public struct PrivateXMLModule: Module {
    public static let namespace = "jabber:iq:private"
    public let name = "private-xml"
    private let store: any PrivateXMLStore

    public init(store: any PrivateXMLStore) {
        self.store = store
    }

    public func register(in registrar: ModuleRegistrar) {
        // Served on the account's behalf (IQs without `to` or to one's own bare JID); listed on the
        // server too, where clients look for what their server supports (as Prosody does).
        registrar.advertise(feature: Self.namespace)
        registrar.advertise(feature: Self.namespace, on: .account)
        let store = self.store
        let logger = registrar.kernel.logger
        registrar.handleIQ("query", namespace: Self.namespace, types: [.get, .set], target: .account) { request in
            let owner = request.to.bare
            guard let username = owner.localpart else { return .failure(StanzaError(.serviceUnavailable)) }
            // §2.3: another user's data is forbidden (preferred over service-unavailable).
            guard request.from.bare == owner else {
                return .failure(StanzaError(.forbidden, text: "private XML belongs to its account"))
            }
            let children = request.payload.elements
            // §2.3: at least one child with a namespace of its own MUST be included, else not-acceptable
            // (the "Bad Format" of the example is its code 406, i.e. not-acceptable).
            guard !children.isEmpty else {
                return .failure(StanzaError(.notAcceptable, text: "name the element to store or retrieve"))
            }
            if let child = children.first(where: { Self.isReserved($0.namespace) }) {
                return .failure(StanzaError(.notAcceptable, text: "'\(child.namespace)' is not a namespace for private data"))
            }
            do {
                if request.isSet {
                    try await store.store(children, username: username, host: owner.domainpart)
                    return .success(nil)
                }
                // §2.3: a client MUST NOT query more than one namespace in one get; several elements
                // of one namespace may come back together, as they may be set together.
                guard Set(children.map(\.namespace)).count == 1 else {
                    return .failure(StanzaError(.badRequest, text: "retrieve one namespace per request"))
                }
                var query = XElement("query", namespace: Self.namespace)
                for asked in children {
                    let stored = try await store.element(name: asked.name, namespace: asked.namespace,
                                                         username: username, host: owner.domainpart)
                    // Nothing stored: the empty element asked for comes back (as ejabberd and Prosody do).
                    query.append(stored ?? XElement(asked.name, namespace: asked.namespace))
                }
                return .success(query)
            } catch {
                logger.error("private XML storage failed", metadata: ["jid": "\(owner)", "error": "\(error)"])
                return .failure(StanzaError(.internalServerError))
            }
        }
    }

    /// Removes what this module keeps for an account when the account is deleted; runs also when
    /// `modules_disabled` names the module, so no data outlives its account.
    public func registerAccountData(in registrar: ModuleRegistrar) {
        let store = self.store
        let logger = registrar.kernel.logger
        registrar.onAccountDeleted { user in
            guard let username = user.localpart else { return }
            do {
                try await store.deleteAll(username: username, host: user.domainpart)
            } catch {
                logger.error("private XML removal failed", metadata: ["jid": "\(user)", "error": "\(error)"])
            }
        }
    }

    /// Namespaces that are not a stored fragment's own: none, the stanza namespaces, and this
    /// protocol's (a child written without `xmlns` inherits it). XEP-0049 §2.3 lets servers refuse
    /// further reserved namespaces; those are accepted.
    static func isReserved(_ namespace: String) -> Bool {
        namespace.isEmpty || namespace == NS.client || namespace == NS.server || namespace == Self.namespace
    }
}
