import ParleyKernel
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// XEP-0359: every message reaching a local account gets a `<stanza-id/>` assigned by that account,
/// and any `<stanza-id/>` claiming to be from the account that it did not assign is removed.
public struct StanzaIDModule: Module {
    public static let namespace = "urn:xmpp:sid:0"
    /// Runs before anything that stores or delivers messages (offline storage, archives), after blocking.
    public static let hookPriority = 900
    public let name = "stanza-id"
    private let makeID: @Sendable () -> String

    /// - Parameter makeID: the id generator; random UUIDs (XEP-0359 §3 recommends RFC 4122) by default.
    public init(makeID: @escaping @Sendable () -> String = StanzaIDGenerator.uuid) {
        self.makeID = makeID
    }

    public func register(in registrar: ModuleRegistrar) {
        let makeID = makeID
        // XEP-0359 §5: announced by the entity that assigns the ids, here each account.
        registrar.advertise(feature: Self.namespace, on: .account)
        registrar.onInbound(priority: Self.hookPriority, synchronous: { inbound in
            guard inbound.stanza.kind == .message, inbound.to.localpart != nil else { return .pass }
            inbound.stanza.element = Self.stamp(inbound.stanza.element, by: inbound.to.bare, id: makeID)
            return .pass
        })
    }

    /// Removes the stanza-ids `by` the account and, for messages the account assigns ids to, adds a fresh one.
    static func stamp(_ message: XElement, by account: JID, id makeID: () -> String) -> XElement {
        var message = message
        let by = account.description
        // XEP-0359 §3 rule 2: an entity that assigns ids MUST delete a stanza-id with its own 'by',
        // even when it adds none (§6: otherwise the id could be spoofed). Rule 3: others stay.
        message.children.removeAll { node in
            guard case .element(let child) = node, child.name == "stanza-id", child.namespace == namespace else { return false }
            return sameAddress(child[attribute: "by"], by)
        }
        switch message[attribute: "type"] ?? "normal" {
        case "error":
            // Errors are not messages of the conversation; they get no id.
            return message
        case "groupchat":
            // XEP-0359 §3 rule 7: in groupchats the room assigns the ids, not the account.
            return message
        default:
            message.append(XElement("stanza-id", namespace: namespace, ["id": makeID(), "by": by]))
            return message
        }
    }

    /// Compares a 'by' value to the account's JID after normalisation (XEP-0359 §3 rule 7).
    private static func sameAddress(_ value: String?, _ account: String) -> Bool {
        guard let value else { return false }
        if value == account { return true }
        guard let parsed = try? JID(value) else { return false }
        return parsed.description == account
    }
}
