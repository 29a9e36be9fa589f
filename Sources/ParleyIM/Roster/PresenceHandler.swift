import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Presence from and for local users (RFC 6121 §4): broadcasts, probes, directed presence, and
/// the dispatch of subscription stanzas to `SubscriptionHandler`.
struct PresenceHandler: Sendable {
    let context: RosterContext
    let subscriptions: SubscriptionHandler

    var kernel: Kernel { context.kernel }

    // MARK: Hooks

    /// Whether `outbound` needs this handler; what it passes on untouched routes without it.
    static func handlesOutbound(_ outbound: OutboundStanza) -> Bool {
        outbound.stanza.kind == .presence && outbound.stanza.type != "error"
    }

    /// Whether `inbound` needs this handler: subscription stanzas and probes for an account.
    static func handlesInbound(_ inbound: InboundStanza) -> Bool {
        guard inbound.stanza.kind == .presence, inbound.to.localpart != nil, let type = inbound.stanza.type else { return false }
        return type == "probe" || SubscriptionStanzaType(rawValue: type) != nil
    }

    /// Presence a client sent.
    func outbound(_ outbound: inout OutboundStanza) async -> HookResult {
        guard outbound.stanza.kind == .presence else { return .pass }
        let stanza = outbound.stanza
        let session = outbound.session
        let isBroadcast = stanza.toString == nil
        switch stanza.type {
        case nil:
            if isBroadcast {
                await broadcastAvailable(stanza, from: session)
                return .handled
            }
            await rememberDirectedPresence(to: outbound.to, from: session)
            return .pass
        case "unavailable":
            if isBroadcast {
                await broadcastUnavailable(stanza.element, from: session)
                return .handled
            }
            // §4.6.3: directed unavailable presence ends what directed presence started.
            let target = outbound.to
            session.update { _ = $0.directedPresence.remove(target) }
            return .pass
        case "probe":
            await probe(outbound.to, from: session)
            return .handled
        case "error":
            return .pass
        case let type?:
            if let subscription = SubscriptionStanzaType(rawValue: type) {
                await subscriptions.outbound(subscription, stanza, session: session, to: outbound.to)
            } else {
                // RFC 6121 §4.7.1: these are the only presence types.
                kernel.bounce(stanza, StanzaError(.badRequest, text: "unknown presence type"))
            }
            return .handled
        }
    }

    /// Presence for a local account: subscription stanzas and probes are the server's to handle and
    /// never reach clients as such; everything else goes on to the kernel's delivery rules.
    func inbound(_ inbound: inout InboundStanza) async -> HookResult {
        guard inbound.stanza.kind == .presence, inbound.to.localpart != nil, let type = inbound.stanza.type else {
            return .pass
        }
        if let subscription = SubscriptionStanzaType(rawValue: type) {
            await subscriptions.inbound(subscription, inbound)
            return .handled
        }
        if type == "probe" {
            await answerProbe(inbound)
            return .handled
        }
        return .pass
    }

    /// §4.5.2 (unclean disconnects included): a session that ends while available is announced
    /// unavailable, exactly as if the client had said so.
    func sessionClosed(_ session: LocalSession) async {
        await broadcastUnavailable(nil, from: session)
    }

    // MARK: Broadcast

    /// §4.2.2 (initial presence) and §4.4.2 (later presence).
    private func broadcastAvailable(_ stanza: Stanza, from session: LocalSession) async {
        let priority: Int
        switch PresencePriority.parse(stanza.element) {
        case .success(let value): priority = value
        case .failure(let error):
            kernel.bounce(stanza, error)
            return
        }
        var presence = stanza.element
        presence[attribute: "from"] = session.jid.description
        presence[attribute: "to"] = nil
        let stored = presence
        let (wasAvailable, oldPriority) = session.update { state -> (Bool, Int) in
            let was = (state.isAvailable, state.priority)
            state.availablePresence = stored
            state.priority = priority
            state.sentInitialPresence = true
            return was
        }
        let user = session.jid.bare
        let items = await subscriptions(of: user)
        // To every contact subscribed to the user...
        for item in items where item.subscription.hasFrom {
            await context.dispatch(presence, fromAlreadySet: session.jid, to: item)
        }
        // ...and to all the user's available resources, this one included: an account is implicitly
        // subscribed to itself (§4.2.2, §4.4.2).
        for resource in kernel.availableSessions(of: user) {
            kernel.deliver(RosterContext.addressed(presence, from: session.jid, to: resource.jid), to: resource)
        }
        guard !wasAvailable else {
            // XEP-0160 §2 step 5: a resource that raises its priority from negative to non-negative
            // becomes a delivery target for what was kept while it could not be one.
            if oldPriority < 0 && priority >= 0 { await kernel.sessionBecameAvailable(session) }
            return
        }

        // §4.2.2: probe the contacts the user is subscribed to, on behalf of this resource, so their
        // answers reach only it (§4.3.1).
        var probe = RosterContext.presence(type: "probe")
        probe[attribute: "from"] = session.jid.description
        for item in items where item.subscription.hasTo {
            await context.dispatch(probe, fromAlreadySet: session.jid, to: item)
        }
        // The user's other resources, as a probe of the user's own account would answer.
        for resource in kernel.availableSessions(of: user) where resource !== session {
            guard let other = resource.availablePresence else { continue }
            kernel.deliver(RosterContext.addressed(other, from: resource.jid, to: session.jid), to: session)
        }
        // §3.1.3: requests that are still unanswered are delivered again at each login.
        do {
            for entry in try await context.store.pendingRequests(of: user) {
                if let request = entry.pendingIn { kernel.deliver(request, to: session) }
            }
        } catch {
            context.logStoreFailure(error, "pending requests", user: user)
        }
        await kernel.sessionBecameAvailable(session)
    }

    /// §4.5.2: unavailable presence goes where available presence went: subscribers, the user's other
    /// resources, and entities that got directed presence (§4.6.2) and have not been told since.
    func broadcastUnavailable(_ element: XElement?, from session: LocalSession) async {
        var presence = element ?? XElement("presence", namespace: NS.client, ["type": "unavailable"])
        presence[attribute: "from"] = session.jid.description
        presence[attribute: "to"] = nil
        let (wasAvailable, directed) = session.update { state -> (Bool, Set<JID>) in
            let before = (state.isAvailable, state.directedPresence)
            state.availablePresence = nil
            state.priority = 0
            state.directedPresence = []
            return before
        }
        guard wasAvailable || !directed.isEmpty else { return }
        let user = session.jid.bare
        var subscribers: Set<JID> = []
        if wasAvailable {
            for item in await subscriptions(of: user) where item.subscription.hasFrom {
                subscribers.insert(item.jid)
                await context.dispatch(presence, fromAlreadySet: session.jid, to: item)
            }
            for resource in kernel.availableSessions(of: user) {
                kernel.deliver(RosterContext.addressed(presence, from: session.jid, to: resource.jid), to: resource)
            }
        }
        // A subscriber already got the broadcast at its bare JID, which reaches all its resources.
        for target in directed.sorted(by: { $0.description < $1.description }) where !subscribers.contains(target.bare) {
            await context.dispatch(presence, fromAlreadySet: session.jid, to: target)
        }
    }

    /// §4.6.2: the server remembers who got directed available presence, to send them unavailable
    /// presence when the session ends. A subscriber needs no record while the user is available: the
    /// broadcast reaches it anyway.
    private func rememberDirectedPresence(to target: JID, from session: LocalSession) async {
        let user = session.jid.bare
        guard target.bare != user else { return }
        if session.isAvailable {
            do {
                if try await context.store.subscription(of: user, contact: target.bare)?.hasFrom == true { return }
            } catch {
                context.logStoreFailure(error, "directed presence", user: user)
            }
        }
        session.update { _ = $0.directedPresence.insert(target) }
    }

    // MARK: Helpers

    func subscriptions(of user: JID) async -> [ContactSubscription] {
        do {
            return try await context.store.subscriptions(of: user)
        } catch {
            context.logStoreFailure(error, "presence broadcast", user: user)
            return []
        }
    }
}
