import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Presence probes (RFC 6121 §4.3).
extension PresenceHandler {
    /// A probe a client sent. Probes are the server's business (§4.3.1); one is routed only where the
    /// user's subscription already entitles them to the answer, so it cannot be used to trigger the
    /// `unsubscribed` an unauthorised probe gets (§4.3.2).
    func probe(_ target: JID, from session: LocalSession) async {
        let user = session.jid.bare
        if target.bare == user {
            for resource in kernel.availableSessions(of: user) {
                guard let presence = resource.availablePresence else { continue }
                kernel.deliver(RosterContext.addressed(presence, from: resource.jid, to: session.jid), to: session)
            }
            return
        }
        do {
            guard try await context.store.subscription(of: user, contact: target.bare)?.hasTo == true else { return }
        } catch {
            context.logStoreFailure(error, "probe", user: user)
            return
        }
        await context.dispatch(RosterContext.presence(type: "probe"), from: session.jid, to: target.bare)
    }

    /// §4.3.2: a probe for a local account.
    func answerProbe(_ inbound: InboundStanza) async {
        let user = inbound.to.bare
        let prober = inbound.from
        guard prober.bare != user else { return }
        // A roster goes with its account (`onAccountDeleted`), so the subscription lookup alone tells
        // both cases of (1) apart from the rest, without a second query for the account itself: a
        // login probes every contact, and most of those lookups are for contacts who are offline.
        let subscribed: Bool
        do {
            subscribed = try await context.store.subscription(of: user, contact: prober.bare)?.hasFrom == true
        } catch {
            context.logStoreFailure(error, "probe", user: user)
            return
        }
        // §4.3.2 (1): no account or no subscription: the presence stays hidden, and the prober's server
        // is told the subscription it thinks it has does not exist.
        guard subscribed else {
            await context.dispatch(RosterContext.presence(type: "unsubscribed"), from: user, to: prober.bare)
            return
        }
        let resources = kernel.availableSessions(of: user)
        // §4.3.2 (2): no available resource: unavailable presence (the last one is not kept).
        guard !resources.isEmpty else {
            await context.dispatch(RosterContext.presence(type: "unavailable"), from: user, to: prober)
            return
        }
        // §4.3.2 (3): the last available presence of each available resource, from its full JID
        // (kept with that `from` by `broadcastAvailable`).
        for resource in resources {
            guard let presence = resource.availablePresence else { continue }
            await context.dispatch(presence, fromAlreadySet: resource.jid, to: prober)
        }
    }
}
