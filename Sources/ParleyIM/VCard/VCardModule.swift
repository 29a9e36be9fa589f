import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// vcard-temp (XEP-0054): accounts store one vCard each, which anyone may read.
public struct VCardModule: Module {
    public static let namespace = "vcard-temp"
    public static let defaultMaxBytes = 64 * 1024
    public let name = "vcard"
    private let store: any VCardStore
    private let maxBytes: Int
    private let serverVCard: XElement?

    /// - Parameters:
    ///   - maxBytes: the largest vCard accepted, as serialized XML (avatars embedded in vCards are large).
    ///   - serverVCard: the server's own `<vCard xmlns='vcard-temp'/>` (§3.3 note), answered to IQs
    ///     to the domain; without one, those get service-unavailable.
    public init(store: any VCardStore, maxBytes: Int = VCardModule.defaultMaxBytes, serverVCard: XElement? = nil) {
        self.store = store
        self.maxBytes = maxBytes
        self.serverVCard = serverVCard
    }

    public func register(in registrar: ModuleRegistrar) {
        // XEP-0054 §4: support is advertised on the server.
        registrar.advertise(feature: Self.namespace)
        let store = self.store
        let maxBytes = self.maxBytes
        let logger = registrar.kernel.logger
        registrar.handleIQ("vCard", namespace: Self.namespace, types: [.get], target: .account) { request in
            let owner = request.to.bare
            guard let username = owner.localpart else { return .failure(StanzaError(.serviceUnavailable)) }
            let stored: XElement?
            do {
                stored = try await store.vCard(username: username, host: owner.domainpart)
            } catch {
                logger.error("vCard lookup failed", metadata: ["jid": "\(owner)", "error": "\(error)"])
                return .failure(StanzaError(.internalServerError))
            }
            if let stored { return .success(stored) }
            if request.from.bare == owner {
                // §3.1: for one's own missing vCard the server may answer with an empty vCard, which
                // clients treat as "nothing published yet" (as ejabberd does).
                return .success(XElement("vCard", namespace: Self.namespace))
            }
            // §3.3: no vCard and no such user MUST get the same error, and RFC 6121 §8.5.1 makes
            // that service-unavailable.
            return .failure(StanzaError(.serviceUnavailable))
        }
        registrar.handleIQ("vCard", namespace: Self.namespace, types: [.set], target: .account) { request in
            let owner = request.to.bare
            guard let username = owner.localpart else { return .failure(StanzaError(.serviceUnavailable)) }
            // §3.2: only the user sets their vCard; anyone else SHOULD get forbidden.
            guard request.from.bare == owner else {
                return .failure(StanzaError(.forbidden, text: "only the account itself may change its vCard"))
            }
            // A local size policy (RFC 6120 §8.3.3.12).
            guard StoredXML.byteCount(of: request.payload) <= maxBytes else {
                return .failure(StanzaError(.policyViolation, text: "the vCard is larger than \(maxBytes) bytes"))
            }
            do {
                try await store.setVCard(request.payload, username: username, host: owner.domainpart)
            } catch {
                logger.error("vCard update failed", metadata: ["jid": "\(owner)", "error": "\(error)"])
                return .failure(StanzaError(.internalServerError))
            }
            return .success(nil)
        }
        if let serverVCard {
            registrar.handleIQ("vCard", namespace: Self.namespace, types: [.get], target: .server) { _ in .success(serverVCard) }
            registrar.handleIQ("vCard", namespace: Self.namespace, types: [.set], target: .server) { _ in
                .failure(StanzaError(.forbidden, text: "the server's vCard is configured, not set over XMPP"))
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
                try await store.deleteVCard(username: username, host: user.domainpart)
            } catch {
                logger.error("vCard removal failed", metadata: ["jid": "\(user)", "error": "\(error)"])
            }
        }
    }
}
