import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Presence subscription stanzas (RFC 6121 §3): outbound from a local user, inbound for one.
struct SubscriptionHandler: Sendable {
    let context: RosterContext

    /// A subscription stanza a client sent (§3.1.2, §3.1.5, §3.2.2, §3.3.2, §3.4.2).
    func outbound(_ type: SubscriptionStanzaType, _ stanza: Stanza, session: LocalSession, to: JID) async {
        let user = session.jid.bare
        let contact = to.bare
        // The user is always subscribed to their own presence (§4.2.2): there is nothing to change,
        // and a roster item for oneself is refused (see `RosterSetRequest`), so this is dropped.
        guard contact != user else { return }
        // §3.1.2 (and the other outbound sections): the server stamps the user's bare JID as `from`
        // and addresses the contact's bare JID.
        let stamped = RosterContext.addressed(stanza.element, from: user, to: contact)
        let preApproval = context.options.preApproval
        let change: RosterChange<SubscriptionUpdate.Outcome>
        do {
            change = try await context.store.update(user: user, contact: contact) { entry in
                SubscriptionUpdate.outbound(type, &entry, preApproval: preApproval)
            }
        } catch {
            context.logStoreFailure(error, "outbound \(type.rawValue)", user: user)
            context.kernel.bounce(stanza, StanzaError(.internalServerError))
            return
        }
        // §3.1.2 etc.: the roster push comes before the stanza is routed.
        context.pushIfChanged(change, to: user)
        let outcome = change.result
        if outcome.forward { await context.dispatch(stamped) }
        if outcome.gainedFrom { await context.sendCurrentPresence(of: user, to: contact) }
        if outcome.lostFrom { await context.sendUnavailable(of: user, to: contact) }
    }

    /// A subscription stanza for a local account (§3.1.3, §3.1.6, §3.2.3, §3.3.3).
    func inbound(_ type: SubscriptionStanzaType, _ inbound: InboundStanza) async {
        let user = inbound.to.bare  // §3.1.3: a full JID is treated as the bare JID
        let contact = inbound.from.bare
        guard contact != user else { return }
        guard await context.kernel.accountExists(user) else {
            // §3.1.3: a request for an account that does not exist is answered `unsubscribed`;
            // the other types are ignored (§8.5.1).
            if type == .subscribe {
                await context.dispatch(RosterContext.presence(type: "unsubscribed"), from: user, to: contact)
            }
            return
        }
        let stamped = RosterContext.addressed(inbound.stanza.element, from: contact, to: user)
        let change: RosterChange<SubscriptionUpdate.Outcome>
        do {
            change = try await context.store.update(user: user, contact: contact) { entry in
                SubscriptionUpdate.inbound(type, &entry, request: stamped)
            }
        } catch {
            context.logStoreFailure(error, "inbound \(type.rawValue)", user: user)
            return
        }
        // §3.1.6, §3.2.3, §3.3.3: push first, then deliver to every available resource.
        context.pushIfChanged(change, to: user)
        let outcome = change.result
        if outcome.forward { context.deliverToAvailableResources(stamped, of: user) }
        if outcome.replySubscribed {
            await context.dispatch(RosterContext.presence(type: "subscribed"), from: user, to: contact)
            // §3.1.5: the (re)approved subscriber gets the user's current presence.
            await context.sendCurrentPresence(of: user, to: contact)
        }
        if outcome.lostFrom { await context.sendUnavailable(of: user, to: contact) }
    }
}
