import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// What the roster and presence handlers share: the kernel, the store and the options, and the
/// few ways they send things.
struct RosterContext: Sendable {
    let kernel: Kernel
    let store: any RosterStore
    let options: RosterPresenceModule.Options

    /// `<presence/>` in the client namespace with the given type and no addresses, for
    /// `dispatch(_:from:to:)`.
    static func presence(type: String?) -> XElement {
        var presence = XElement("presence", namespace: NS.client)
        if let type { presence[attribute: "type"] = type }
        return presence
    }

    /// `element` with its `from` and `to` replaced.
    static func addressed(_ element: XElement, from: JID, to: JID?) -> XElement {
        var copy = element
        copy[attribute: "from"] = from.description
        copy[attribute: "to"] = to?.description
        return copy
    }

    /// Routes a server-generated stanza (its addresses set): local addressees pass the inbound hooks.
    func dispatch(_ element: XElement) async {
        guard let stanza = Stanza(element) else { return }
        await kernel.dispatch(stanza)
    }

    /// Routes a server-generated stanza from `from` to `to` (set on it here).
    func dispatch(_ element: XElement, from: JID, to: JID) async {
        await kernel.dispatch(element, from: from, to: to)
    }

    /// `dispatch(_:from:to:)` for an element whose `from` is already set to `from`'s string form.
    func dispatch(_ element: XElement, fromAlreadySet from: JID, to: JID) async {
        await kernel.dispatch(element, fromAlreadySet: from, to: to)
    }

    /// A broadcast's copy for one contact, addressed with the string its subscription keeps.
    func dispatch(_ element: XElement, fromAlreadySet from: JID, to contact: ContactSubscription) async {
        await kernel.dispatch(element, fromAlreadySet: from, to: contact.jid, toAddress: contact.address)
    }

    /// RFC 6121 §8.5.2.1.2 for stanzas the server handled itself: every available resource gets it.
    func deliverToAvailableResources(_ element: XElement, of user: JID) {
        for session in kernel.availableSessions(of: user) {
            kernel.deliver(element, to: session)
        }
    }

    /// RFC 6121 §3.1.5: a new subscriber gets the user's current presence from each available resource.
    func sendCurrentPresence(of user: JID, to contact: JID) async {
        for session in kernel.availableSessions(of: user) {
            guard let presence = session.availablePresence else { continue }
            await dispatch(Self.addressed(presence, from: session.jid, to: contact))
        }
    }

    /// RFC 6121 §3.2.2, §3.3.3: a former subscriber gets unavailable presence from each available resource.
    func sendUnavailable(of user: JID, to contact: JID) async {
        for session in kernel.availableSessions(of: user) {
            await dispatch(Self.presence(type: "unavailable"), from: session.jid, to: contact)
        }
    }

    // MARK: Roster pushes

    /// RFC 6121 §2.1.6: a roster push to every interested resource of the user.
    func push(_ itemElement: XElement, version: Int64, to user: JID) {
        let query = RosterXML.query(items: [itemElement], version: version)
        for session in kernel.sessions.sessions(for: user.bare) where session.isInterestedInRoster {
            // No `from`: a push comes from the user's own account (§2.1.6).
            var iq = XElement("iq", namespace: NS.client)
            iq[attribute: "type"] = "set"
            iq[attribute: "id"] = "push-" + RandomID.make(length: 12)
            iq[attribute: "to"] = session.jid.description
            iq.append(query)
            session.send(iq)
        }
    }

    /// Pushes the entry's item (or its removal) when the visible item changed.
    func pushIfChanged<Result>(_ change: RosterChange<Result>, to user: JID) {
        guard change.itemChanged else { return }
        push(RosterXML.element(for: change.after.item, contact: change.after.contact), version: change.version, to: user)
    }

    func logStoreFailure(_ error: any Error, _ what: String, user: JID) {
        kernel.logger.error("roster store failed", metadata: ["during": "\(what)", "user": "\(user)", "error": "\(error)"])
    }
}
