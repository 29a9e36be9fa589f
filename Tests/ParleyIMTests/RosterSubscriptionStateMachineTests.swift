import ParleyStorage
import Testing
import XMPPAddress
import XMPPXML
@testable import ParleyIM

/// One row of an RFC 6121 Appendix A table.
struct SubscriptionTableRow: Sendable, CustomTestStringConvertible {
    var direction: SubscriptionDirection
    var type: SubscriptionStanzaType
    var state: SubscriptionState
    var forward: Bool
    /// nil: "no state change".
    var next: SubscriptionState?

    var testDescription: String { "\(direction) \(type.rawValue) in \(state.rawValue)" }
}

/// The eight tables of RFC 6121 Appendix A, transcribed row by row in the RFC's order.
enum RosterAppendixA {
    typealias S = SubscriptionState

    static func table(_ direction: SubscriptionDirection, _ type: SubscriptionStanzaType,
                      _ rows: [(S, Bool, S?)]) -> [SubscriptionTableRow] {
        rows.map { SubscriptionTableRow(direction: direction, type: type, state: $0.0, forward: $0.1, next: $0.2) }
    }

    static let rows: [SubscriptionTableRow] =
        // A.2.1 outbound subscribe
        table(.outbound, .subscribe, [
            (.none, true, .noneOut), (.noneOut, true, nil), (.noneIn, true, .noneOutIn), (.noneOutIn, true, nil),
            (.to, true, nil), (.toIn, true, nil), (.from, true, .fromOut), (.fromOut, true, nil), (.both, true, nil),
        ])
        // A.2.2 outbound unsubscribe
        + table(.outbound, .unsubscribe, [
            (.none, true, nil), (.noneOut, true, S.none), (.noneIn, true, nil), (.noneOutIn, true, .noneIn),
            (.to, true, S.none), (.toIn, true, .noneIn), (.from, true, nil), (.fromOut, true, .from), (.both, true, .from),
        ])
        // A.2.3 outbound subscribed
        + table(.outbound, .subscribed, [
            (.none, false, nil), (.noneOut, false, nil), (.noneIn, true, .from), (.noneOutIn, true, .fromOut),
            (.to, false, nil), (.toIn, true, .both), (.from, false, nil), (.fromOut, false, nil), (.both, false, nil),
        ])
        // A.2.4 outbound unsubscribed
        + table(.outbound, .unsubscribed, [
            (.none, false, nil), (.noneOut, false, nil), (.noneIn, true, S.none), (.noneOutIn, true, .noneOut),
            (.to, false, nil), (.toIn, true, .to), (.from, true, S.none), (.fromOut, true, .noneOut), (.both, true, .to),
        ])
        // A.3.1 inbound subscribe
        + table(.inbound, .subscribe, [
            (.none, true, .noneIn), (.noneOut, true, .noneOutIn), (.noneIn, false, nil), (.noneOutIn, false, nil),
            (.to, true, .toIn), (.toIn, false, nil), (.from, false, nil), (.fromOut, false, nil), (.both, false, nil),
        ])
        // A.3.2 inbound unsubscribe
        + table(.inbound, .unsubscribe, [
            (.none, false, nil), (.noneOut, false, nil), (.noneIn, true, S.none), (.noneOutIn, true, .noneOut),
            (.to, false, nil), (.toIn, true, .to), (.from, true, S.none), (.fromOut, true, .noneOut), (.both, true, .to),
        ])
        // A.3.3 inbound subscribed
        + table(.inbound, .subscribed, [
            (.none, false, nil), (.noneOut, true, .to), (.noneIn, false, nil), (.noneOutIn, true, .toIn),
            (.to, false, nil), (.toIn, false, nil), (.from, false, nil), (.fromOut, true, .both), (.both, false, nil),
        ])
        // A.3.4 inbound unsubscribed
        + table(.inbound, .unsubscribed, [
            (.none, false, nil), (.noneOut, true, S.none), (.noneIn, false, nil), (.noneOutIn, true, .noneIn),
            (.to, true, S.none), (.toIn, true, .noneIn), (.from, false, nil), (.fromOut, true, .from), (.both, true, .from),
        ])
}

@Suite("Subscription state machine (RFC 6121 Appendix A)")
struct RosterSubscriptionStateMachineTests {
    @Test func theTablesCoverEveryStateOfEveryStanzaBothWays() {
        #expect(RosterAppendixA.rows.count == 2 * 4 * 9)
        for direction in SubscriptionDirection.allCases {
            for type in SubscriptionStanzaType.allCases {
                let states = RosterAppendixA.rows.filter { $0.direction == direction && $0.type == type }.map(\.state)
                #expect(states == SubscriptionState.allCases, "\(direction) \(type)")
            }
        }
    }

    @Test(arguments: RosterAppendixA.rows)
    func row(_ row: SubscriptionTableRow) {
        let transition = SubscriptionStateMachine.transition(row.state, row.type, row.direction)
        #expect(transition.forward == row.forward)
        #expect(transition.next == (row.next ?? row.state))
    }

    @Test(arguments: SubscriptionState.allCases)
    func statesRoundTripThroughTheirParts(_ state: SubscriptionState) {
        #expect(SubscriptionState(subscription: state.subscription, pendingOut: state.pendingOut, pendingIn: state.pendingIn) == state)
    }

    @Test func impossibleCombinationsCollapseToTheSubscribedState() {
        #expect(SubscriptionState(subscription: .to, pendingOut: true, pendingIn: false) == .to)
        #expect(SubscriptionState(subscription: .from, pendingOut: false, pendingIn: true) == .from)
        #expect(SubscriptionState(subscription: .both, pendingOut: true, pendingIn: true) == .both)
    }

    @Test(arguments: SubscriptionState.allCases)
    func entriesMapToTheirState(_ state: SubscriptionState) {
        var entry = RosterEntry(contact: RosterTest.jid("bob@localhost"))
        if state.subscription != .none || state.pendingOut {
            entry.item = RosterItem(jid: entry.contact, subscription: state.subscription, askSubscribe: state.pendingOut)
        }
        if state.pendingIn { entry.pendingIn = RosterTest.element("<presence type='subscribe'/>") }
        #expect(SubscriptionState(entry) == state)
    }
}

/// The entry mutations layered on the tables: items, pending requests, pre-approval, auto-replies.
@Suite("Subscription entry updates")
struct RosterSubscriptionUpdateTests {
    let bob = RosterTest.jid("bob@localhost")
    let request = RosterTest.element("<presence type='subscribe' from='bob@localhost' to='alice@localhost'/>")

    @Test func anInboundRequestIsKeptButIsNotARosterItem() {
        var entry = RosterEntry(contact: bob)
        let outcome = SubscriptionUpdate.inbound(.subscribe, &entry, request: request)
        #expect(outcome == .init(forward: true))
        #expect(entry.item == nil)
        #expect(entry.pendingIn == request)
        // Asked again: not delivered again, the first request is kept.
        let again = SubscriptionUpdate.inbound(.subscribe, &entry, request: RosterTest.element("<presence type='subscribe'/>"))
        #expect(again == .init())
        #expect(entry.pendingIn == request)
    }

    @Test func approvingARequestCreatesTheItemAndDropsTheRequest() {
        var entry = RosterEntry(contact: bob, pendingIn: request)
        let outcome = SubscriptionUpdate.outbound(.subscribed, &entry, preApproval: true)
        #expect(outcome == .init(forward: true, gainedFrom: true))
        #expect(entry == RosterEntry(contact: bob, item: RosterItem(jid: bob, subscription: .from)))
    }

    @Test func denyingARequestLeavesNothing() {
        var entry = RosterEntry(contact: bob, pendingIn: request)
        #expect(SubscriptionUpdate.outbound(.unsubscribed, &entry, preApproval: true) == .init(forward: true))
        #expect(entry.isEmpty)
    }

    @Test func subscribedWithoutARequestPreApproves() {
        var entry = RosterEntry(contact: bob)
        #expect(SubscriptionUpdate.outbound(.subscribed, &entry, preApproval: true) == .init())
        #expect(entry.item == RosterItem(jid: bob, approved: true))

        // The contact's request is then approved by the server (§3.4).
        let outcome = SubscriptionUpdate.inbound(.subscribe, &entry, request: request)
        #expect(outcome == .init(replySubscribed: true, gainedFrom: true))
        #expect(entry == RosterEntry(contact: bob, item: RosterItem(jid: bob, subscription: .from)))
    }

    @Test func preApprovalKeepsTheUsersOwnPendingRequest() {
        var entry = RosterEntry(contact: bob, item: RosterItem(jid: bob, askSubscribe: true, approved: true))
        #expect(SubscriptionUpdate.inbound(.subscribe, &entry, request: request) == .init(replySubscribed: true, gainedFrom: true))
        #expect(entry.item == RosterItem(jid: bob, subscription: .from, askSubscribe: true))
    }

    @Test func preApprovalIsIgnoredWhenTurnedOff() {
        var entry = RosterEntry(contact: bob)
        #expect(SubscriptionUpdate.outbound(.subscribed, &entry, preApproval: false) == .init())
        #expect(entry.isEmpty)
    }

    @Test func unsubscribedCancelsAPreApproval() {
        var entry = RosterEntry(contact: bob, item: RosterItem(jid: bob, name: "Bob", approved: true))
        #expect(SubscriptionUpdate.outbound(.unsubscribed, &entry, preApproval: true) == .init())
        #expect(entry.item == RosterItem(jid: bob, name: "Bob"))
    }

    @Test func anExistingSubscriberIsAnsweredByTheServer() {
        for subscription in [RosterSubscription.from, .both] {
            var entry = RosterEntry(contact: bob, item: RosterItem(jid: bob, subscription: subscription))
            #expect(SubscriptionUpdate.inbound(.subscribe, &entry, request: request) == .init(replySubscribed: true))
            #expect(entry.item?.subscription == subscription)
            #expect(entry.pendingIn == nil)
        }
    }

    @Test func losingASubscriberIsReported() {
        var entry = RosterEntry(contact: bob, item: RosterItem(jid: bob, subscription: .both))
        #expect(SubscriptionUpdate.inbound(.unsubscribe, &entry, request: request) == .init(forward: true, lostFrom: true))
        #expect(entry.item?.subscription == .to)
        #expect(SubscriptionUpdate.outbound(.unsubscribe, &entry, preApproval: true) == .init(forward: true))
        #expect(entry.item == RosterItem(jid: bob), "the item stays on the roster with no subscription")
    }

    @Test func approvingASubscriptionClearsAStalePreApproval() {
        var entry = RosterEntry(contact: bob, item: RosterItem(jid: bob, subscription: .to, approved: true), pendingIn: request)
        #expect(SubscriptionUpdate.outbound(.subscribed, &entry, preApproval: true) == .init(forward: true, gainedFrom: true))
        #expect(entry.item == RosterItem(jid: bob, subscription: .both))
    }
}
