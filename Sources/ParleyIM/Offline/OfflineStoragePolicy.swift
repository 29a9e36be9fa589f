import XMPPProtocol
import XMPPXML

/// Which undeliverable messages are kept offline.
///
/// - Types: normal and chat only (XEP-0160 §3, RFC 6121 §8.5.2.2.1); headline, groupchat and error are not.
/// - A XEP-0334 `<no-store/>` hint: not kept, not even temporarily (§4.2); it wins over `<store/>`.
/// - A `<store/>` hint: kept (§4.4), whatever its content.
/// - Otherwise a message is kept unless it carries nothing worth delivering later: only XEP-0085
///   chat states (XEP-0160 §3), a thread, hints and stanza ids, or nothing at all. Receipts,
///   markers, encrypted payloads and any other extension are kept, since their senders expect them
///   to arrive.
enum OfflineStoragePolicy {
    static let hints = "urn:xmpp:hints"
    static let chatStates = "http://jabber.org/protocol/chatstates"
    static let stanzaIDs = "urn:xmpp:sid:0"

    static func shouldStore(_ message: XElement) -> Bool {
        let type = message[attribute: "type"] ?? "normal"
        guard type == "normal" || type == "chat" else { return false }
        if message.child("no-store", namespace: hints) != nil { return false }
        if message.child("store", namespace: hints) != nil { return true }
        return message.elements.contains { !isTransient($0) }
    }

    /// Content that means nothing once the moment has passed.
    private static func isTransient(_ element: XElement) -> Bool {
        switch element.namespace {
        case chatStates, hints, stanzaIDs:
            true
        case NS.client, NS.server:
            element.name == "thread"
        default:
            false
        }
    }
}
