import ParleyStorage
import XMPPXML

/// What a subscription stanza does to one roster entry: the Appendix A tables plus pre-approval
/// (RFC 6121 §3.4) and the automatic replies of §3.1.3. Pure, so it runs inside a store transaction.
enum SubscriptionUpdate {
    /// What the server does once the entry is written.
    struct Outcome: Sendable, Hashable {
        /// Route the stanza to the contact (outbound) or deliver it to the user's available resources (inbound).
        var forward = false
        /// Answer `subscribed` on the user's behalf (inbound subscribe).
        var replySubscribed = false
        /// The contact became a subscriber: it gets the user's current presence (§3.1.5).
        var gainedFrom = false
        /// The contact stopped being a subscriber: it gets unavailable presence (§3.2.2, §3.3.3).
        var lostFrom = false
    }

    /// A stanza the user sent to the contact.
    static func outbound(_ type: SubscriptionStanzaType, _ entry: inout RosterEntry, preApproval: Bool) -> Outcome {
        let state = SubscriptionState(entry)
        let awaitingAnswer = state.pendingIn || state.subscription.hasFrom
        switch type {
        case .subscribed where !awaitingAnswer:
            // §3.4.2: with no request to answer, `subscribed` pre-approves one; it is never routed.
            if preApproval, entry.item?.approved != true {
                var item = entry.item ?? RosterItem(jid: entry.contact)
                item.approved = true
                entry.item = item
            }
            return Outcome()
        case .unsubscribed where !awaitingAnswer:
            // §3.4 (and A.2.4, not routed): `unsubscribed` cancels a pre-approval.
            if entry.item?.approved == true { entry.item?.approved = false }
            return Outcome()
        default:
            return apply(SubscriptionStateMachine.transition(state, type, .outbound), from: state, to: &entry)
        }
    }

    /// A stanza the contact sent to the user; `request` is the stanza as stamped, kept while pending.
    static func inbound(_ type: SubscriptionStanzaType, _ entry: inout RosterEntry, request: XElement) -> Outcome {
        let state = SubscriptionState(entry)
        if type == .subscribe {
            // §3.1.3: an existing subscriber asking again is answered by the server, not the user.
            if state.subscription.hasFrom { return Outcome(replySubscribed: true) }
            // §3.4: a pre-approved request is approved on the user's behalf, as if they had answered.
            if entry.item?.approved == true {
                let asked = SubscriptionState(subscription: state.subscription, pendingOut: state.pendingOut, pendingIn: true)
                let transition = SubscriptionStateMachine.transition(asked, .subscribed, .outbound)
                var outcome = apply(transition, from: state, to: &entry)
                outcome.forward = false
                outcome.replySubscribed = true
                return outcome
            }
        }
        let transition = SubscriptionStateMachine.transition(state, type, .inbound)
        let outcome = apply(transition, from: state, to: &entry)
        // §3.1.3: the request is kept until the user answers, to be delivered again at each login.
        if type == .subscribe, transition.next.pendingIn, entry.pendingIn == nil { entry.pendingIn = request }
        return outcome
    }

    /// Writes the new state into the entry. An item appears once the user has a subscription or a
    /// request of their own; a contact that only asked stays off the roster ("None + Pending In").
    private static func apply(_ transition: SubscriptionTransition, from state: SubscriptionState,
                              to entry: inout RosterEntry) -> Outcome {
        let next = transition.next
        if entry.item != nil || next.subscription != .none || next.pendingOut {
            var item = entry.item ?? RosterItem(jid: entry.contact)
            item.subscription = next.subscription
            item.askSubscribe = next.pendingOut
            if next.subscription.hasFrom { item.approved = false }  // the pre-approval is used up
            entry.item = item
        }
        if !next.pendingIn { entry.pendingIn = nil }
        return Outcome(
            forward: transition.forward,
            gainedFrom: !state.subscription.hasFrom && next.subscription.hasFrom,
            lostFrom: state.subscription.hasFrom && !next.subscription.hasFrom)
    }
}
