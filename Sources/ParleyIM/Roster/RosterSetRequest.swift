import XMPPAddress
import XMPPProtocol
import XMPPXML

/// A validated roster set (RFC 6121 §2.1.5, §2.3, §2.4, §2.5).
struct RosterSetRequest: Sendable, Hashable {
    enum Action: Sendable, Hashable {
        /// Add or update: name and groups replace the item's (§2.4.1).
        case update(name: String?, groups: [String])
        case remove
    }

    var contact: JID
    var action: Action

    /// Checks the `<query/>` of a roster set from `user`, with the errors of §2.3.3 (which §2.4.3 applies
    /// to updates too).
    static func parse(_ query: XElement, user: JID, maxNameBytes: Int, maxGroupBytes: Int) throws(StanzaError) -> RosterSetRequest {
        let items = query.elements.filter { $0.name == "item" && $0.namespace == RosterNamespaces.roster }
        // §2.3.3: exactly one <item/>.
        guard items.count == 1, let item = items.first else {
            throw StanzaError(.badRequest, text: "a roster set carries exactly one item")
        }
        // §2.1.2.3: the 'jid' attribute is required.
        guard let jidString = item[attribute: "jid"] else {
            throw StanzaError(.badRequest, text: "a roster item needs a jid")
        }
        guard let contact = try? JID(jidString) else {
            throw StanzaError(.jidMalformed, text: "the item's jid is not a valid JID")
        }
        // Presence subscriptions are between accounts (§3.1.2 stamps bare JIDs), so a roster holds bare JIDs.
        guard contact.isBare else {
            throw StanzaError(.jidMalformed, text: "a roster item is a bare JID")
        }
        // The user is always subscribed to their own presence (§4.2.2); an item for themselves could
        // only confuse. RFC 6121 does not name an error for this; not-allowed is what Prosody answers.
        guard contact != user.bare else {
            throw StanzaError(.notAllowed, text: "you cannot add yourself to your roster")
        }
        // §2.1.2.5: in a roster set the server MUST ignore every subscription value but "remove".
        // 'ask' and 'approved' are the server's to set (§2.1.2.1, §2.1.2.2): ignored as well.
        if item[attribute: "subscription"] == "remove" {
            return RosterSetRequest(contact: contact, action: .remove)
        }
        var name = item[attribute: "name"]
        if name?.isEmpty == true { name = nil }
        // §2.3.3: a name longer than the server's limit is not-acceptable.
        if let name, name.utf8.count > maxNameBytes {
            throw StanzaError(.notAcceptable, text: "the name is longer than \(maxNameBytes) bytes")
        }
        var groups: [String] = []
        for element in item.elements where element.name == "group" && element.namespace == RosterNamespaces.roster {
            let group = element.text
            // §2.3.3: an empty group or one over the limit is not-acceptable; a duplicate is bad-request.
            if group.isEmpty {
                throw StanzaError(.notAcceptable, text: "a group name cannot be empty")
            }
            if group.utf8.count > maxGroupBytes {
                throw StanzaError(.notAcceptable, text: "a group name is longer than \(maxGroupBytes) bytes")
            }
            if groups.contains(group) {
                throw StanzaError(.badRequest, text: "the item names a group twice")
            }
            groups.append(group)
        }
        return RosterSetRequest(contact: contact, action: .update(name: name, groups: groups))
    }
}
