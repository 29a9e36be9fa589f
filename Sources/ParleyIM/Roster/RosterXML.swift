import ParleyStorage
import XMPPAddress
import XMPPXML

/// The `jabber:iq:roster` payloads the server sends (RFC 6121 §2.1).
enum RosterXML {
    /// `<query ver='…'>` with items.
    static func query(items: [XElement], version: Int64) -> XElement {
        var query = XElement("query", namespace: RosterNamespaces.roster)
        // RFC 6121 §2.6.3: the version goes in every result and push.
        query[attribute: "ver"] = String(version)
        query.children = items.map { .element($0) }
        return query
    }

    /// An item as a result or push shows it (§2.1.2); nil means the item was removed (§2.5.2).
    static func element(for item: RosterItem?, contact: JID) -> XElement {
        var element = XElement("item", namespace: RosterNamespaces.roster)
        element[attribute: "jid"] = contact.description
        guard let item else {
            element[attribute: "subscription"] = "remove"
            return element
        }
        if let name = item.name { element[attribute: "name"] = name }
        element[attribute: "subscription"] = item.subscription.rawValue
        if item.askSubscribe { element[attribute: "ask"] = "subscribe" }
        if item.approved { element[attribute: "approved"] = "true" }  // §2.1.2.1
        for group in item.groups {
            element.append(XElement("group", namespace: RosterNamespaces.roster, children: [.text(group)]))
        }
        return element
    }
}
