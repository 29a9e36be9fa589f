import XMPPXML

/// Which messages are copied (XEP-0280 §6.1, the recommended rules).
enum CarbonsEligibility {
    enum Direction { case sent, received }

    static let chatStates = "http://jabber.org/protocol/chatstates"
    static let receipts = "urn:xmpp:receipts"
    static let markers = "urn:xmpp:chat-markers:0"
    static let directInvitation = "jabber:x:conference"
    static let mucUser = "http://jabber.org/protocol/muc#user"
    static let hints = "urn:xmpp:hints"

    /// - Parameter fromFullJID: whether the message's sender address has a resource.
    static func isEligible(_ message: XElement, direction: Direction, fromFullJID: Bool) -> Bool {
        // XEP-0280 §9: <private/> excludes a message from carbons on both servers;
        // The element stays in the message: servers no longer remove it (§9, interoperability note).
        // XEP-0334 §4.3: <no-copy/> asks that it not be copied to other addresses, e.g. through carbons.
        if message.child("private", namespace: CarbonsModule.namespace) != nil { return false }
        if message.child("no-copy", namespace: hints) != nil { return false }
        // A carbon copy is never copied again.
        if message.child("sent", namespace: CarbonsModule.namespace) != nil
            || message.child("received", namespace: CarbonsModule.namespace) != nil { return false }
        let type = message[attribute: "type"] ?? "normal"
        switch type {
        case "groupchat":
            // §6.1: groupchat messages are not copied.
            return false
        case "error":
            // §6.1 copies errors answering eligible messages; the original is not known here, and
            // servers need not include it (RFC 6120 §8.3.1), so errors are not copied.
            return false
        default:
            break
        }
        let mucUserElement = message.child("x", namespace: mucUser)
        let isMediatedInvitation = mucUserElement?.child("invite", namespace: mucUser) != nil
        // §6.1: a private message from a MUC participant (from a full JID) is not copied: the room
        // already sends it to every joined client.
        if direction == .received, mucUserElement != nil, fromFullJID, !isMediatedInvitation { return false }
        if type == "chat" { return true }
        if type == "normal", message.child("body") != nil { return true }
        // §6.1: payloads typically used in IM (receipts, chat states, markers) and invitations.
        for child in message.elements
        where [chatStates, receipts, markers, directInvitation].contains(child.namespace) {
            return true
        }
        return isMediatedInvitation
    }
}
