import ParleyStorage

/// The nine subscription states of RFC 6121 Appendix A.1, from the point of view of the user whose
/// roster holds the contact. "Pending Out": the user asked and the contact has not answered;
/// "Pending In": the contact asked and the user has not answered.
enum SubscriptionState: String, Sendable, Hashable, CaseIterable {
    case none = "None"
    case noneOut = "None + Pending Out"
    case noneIn = "None + Pending In"
    case noneOutIn = "None + Pending Out/In"
    case to = "To"
    case toIn = "To + Pending In"
    case from = "From"
    case fromOut = "From + Pending Out"
    case both = "Both"

    /// Combinations the tables never produce (a pending request in a direction that is already
    /// subscribed) collapse to the subscribed state.
    init(subscription: RosterSubscription, pendingOut: Bool, pendingIn: Bool) {
        switch subscription {
        case .none:
            self = pendingOut ? (pendingIn ? .noneOutIn : .noneOut) : (pendingIn ? .noneIn : .none)
        case .to: self = pendingIn ? .toIn : .to
        case .from: self = pendingOut ? .fromOut : .from
        case .both: self = .both
        }
    }

    init(_ entry: RosterEntry) {
        self.init(subscription: entry.item?.subscription ?? .none,
                  pendingOut: entry.item?.askSubscribe ?? false,
                  pendingIn: entry.pendingIn != nil)
    }

    var subscription: RosterSubscription {
        switch self {
        case .none, .noneOut, .noneIn, .noneOutIn: .none
        case .to, .toIn: .to
        case .from, .fromOut: .from
        case .both: .both
        }
    }

    var pendingOut: Bool { self == .noneOut || self == .noneOutIn || self == .fromOut }
    var pendingIn: Bool { self == .noneIn || self == .noneOutIn || self == .toIn }
}

/// The four subscription-related presence types (RFC 6121 §3).
enum SubscriptionStanzaType: String, Sendable, Hashable, CaseIterable {
    case subscribe, subscribed, unsubscribe, unsubscribed
}

/// Whether the user's server sees the stanza leave the user (outbound) or arrive for the user (inbound).
enum SubscriptionDirection: Sendable, Hashable, CaseIterable {
    case outbound, inbound
}

/// One row of an Appendix A table: the state afterwards, and whether the stanza goes on (routed to
/// the contact for outbound stanzas, delivered to the user's available resources for inbound ones).
struct SubscriptionTransition: Sendable, Hashable {
    var next: SubscriptionState
    var forward: Bool
}

/// RFC 6121 Appendix A as a pure function: the state tables for outbound (A.2) and inbound (A.3)
/// subscription stanzas. Pre-approval (§3.4) and auto-replies (§3.1.3) are layered on top by the caller.
enum SubscriptionStateMachine {
    static func transition(_ state: SubscriptionState, _ type: SubscriptionStanzaType,
                           _ direction: SubscriptionDirection) -> SubscriptionTransition {
        switch (direction, type) {
        case (.outbound, .subscribe): outboundSubscribe(state)
        case (.outbound, .unsubscribe): outboundUnsubscribe(state)
        case (.outbound, .subscribed): outboundSubscribed(state)
        case (.outbound, .unsubscribed): outboundUnsubscribed(state)
        case (.inbound, .subscribe): inboundSubscribe(state)
        case (.inbound, .unsubscribe): inboundUnsubscribe(state)
        case (.inbound, .subscribed): inboundSubscribed(state)
        case (.inbound, .unsubscribed): inboundUnsubscribed(state)
        }
    }

    private static func route(_ next: SubscriptionState) -> SubscriptionTransition { .init(next: next, forward: true) }
    private static func stay(_ state: SubscriptionState, forward: Bool) -> SubscriptionTransition { .init(next: state, forward: forward) }

    /// A.2.1: always routed, the contact's server may be out of sync with ours.
    private static func outboundSubscribe(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .none: route(.noneOut)
        case .noneIn: route(.noneOutIn)
        case .from: route(.fromOut)
        case .noneOut, .noneOutIn, .to, .toIn, .fromOut, .both: stay(state, forward: true)
        }
    }

    /// A.2.2: always routed.
    private static func outboundUnsubscribe(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .noneOut: route(.none)
        case .noneOutIn: route(.noneIn)
        case .to: route(.none)
        case .toIn: route(.noneIn)
        case .fromOut: route(.from)
        case .both: route(.from)
        case .none, .noneIn, .from: stay(state, forward: true)
        }
    }

    /// A.2.3: only an answer to a pending request is routed.
    private static func outboundSubscribed(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .noneIn: route(.from)
        case .noneOutIn: route(.fromOut)
        case .toIn: route(.both)
        case .none, .noneOut, .to, .from, .fromOut, .both: stay(state, forward: false)
        }
    }

    /// A.2.4: routed when it denies a request or cancels the contact's subscription.
    private static func outboundUnsubscribed(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .noneIn: route(.none)
        case .noneOutIn: route(.noneOut)
        case .toIn: route(.to)
        case .from: route(.none)
        case .fromOut: route(.noneOut)
        case .both: route(.to)
        case .none, .noneOut, .to: stay(state, forward: false)
        }
    }

    /// A.3.1: a duplicate request is not delivered again; in From, From + Pending Out and Both the
    /// server answers `subscribed` itself (§3.1.3), which the caller does.
    private static func inboundSubscribe(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .none: route(.noneIn)
        case .noneOut: route(.noneOutIn)
        case .to: route(.toIn)
        case .noneIn, .noneOutIn, .toIn, .from, .fromOut, .both: stay(state, forward: false)
        }
    }

    /// A.3.2.
    private static func inboundUnsubscribe(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .noneIn: route(.none)
        case .noneOutIn: route(.noneOut)
        case .toIn: route(.to)
        case .from: route(.none)
        case .fromOut: route(.noneOut)
        case .both: route(.to)
        case .none, .noneOut, .to: stay(state, forward: false)
        }
    }

    /// A.3.3: only an answer to the user's pending request counts.
    private static func inboundSubscribed(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .noneOut: route(.to)
        case .noneOutIn: route(.toIn)
        case .fromOut: route(.both)
        case .none, .noneIn, .to, .toIn, .from, .both: stay(state, forward: false)
        }
    }

    /// A.3.4.
    private static func inboundUnsubscribed(_ state: SubscriptionState) -> SubscriptionTransition {
        switch state {
        case .noneOut: route(.none)
        case .noneOutIn: route(.noneIn)
        case .to: route(.none)
        case .toIn: route(.noneIn)
        case .fromOut: route(.from)
        case .both: route(.from)
        case .none, .noneIn, .from: stay(state, forward: false)
        }
    }
}
