import ParleyKernel
import ParleyStorage
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

@Suite("Presence exchange (RFC 6121 §4)")
struct RosterPresenceScenarioTests {
    typealias P = RosterPresenceSummary

    @Test func initialPresenceIsBroadcastAndProbesBringTheContactsPresence() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a", presence: "<presence><show>away</show></presence>")

        let bob = await harness.bind("bob@localhost/b")
        await bob.send("<presence><status>here</status></presence>")
        let toBob = bob.take()
        #expect(RosterTest.presences(toBob) == [
            // §4.2.2: to the user's own resources, this one included...
            P(type: "available", from: "bob@localhost/b", to: "bob@localhost/b"),
            // ...and the probe's answer: Alice's last presence, from her full JID (§4.3.2).
            P(type: "available", from: "alice@localhost/a", to: "bob@localhost/b"),
        ])
        #expect(toBob.last?.child("show")?.text == "away")
        let toAlice = alice.take()
        #expect(RosterTest.presences(toAlice) == [P(type: "available", from: "bob@localhost/b", to: "alice@localhost")])
        #expect(toAlice.first?.child("status")?.text == "here")
        #expect(bob.session.state.isAvailable && bob.session.state.sentInitialPresence)
        #expect(harness.availability.announcements(bob.jid) == 1)
    }

    @Test func aProbeOfAnOfflineContactIsAnsweredUnavailable() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let bob = await harness.bind("bob@localhost/b")
        await bob.send("<presence/>")
        #expect(RosterTest.presences(bob.take()) == [
            P(type: "available", from: "bob@localhost/b", to: "bob@localhost/b"),
            P(type: "unavailable", from: "alice@localhost", to: "bob@localhost/b"),
        ])
    }

    @Test func aProbeOfAnAccountThatDoesNotExistIsAnsweredUnsubscribed() async throws {
        let harness = try await RosterHarness()
        // Bob thinks he is subscribed to a user who does not exist (or whose account was deleted).
        try await harness.store.update(user: RosterTest.jid("bob@localhost"), contact: RosterTest.jid("ghost@localhost")) {
            $0.item = RosterItem(jid: $0.contact, subscription: .to)
        }
        let bob = await harness.bind("bob@localhost/b")
        await bob.send("<presence/>")
        // §4.3.2 (1): no account, so no subscription: the subscription Bob thinks he has is over.
        #expect(RosterTest.presences(bob.take()).contains(P(type: "unsubscribed", from: "ghost@localhost", to: "bob@localhost")))
        #expect(try await harness.item("bob@localhost", "ghost@localhost")?.subscription == RosterSubscription.none)
    }

    @Test func onlyContactsWithASubscriptionAreProbedAndTold() async throws {
        let harness = try await RosterHarness()
        // Alice has a subscription to Carol's presence ("to") but Carol's server does not agree.
        try await harness.store.update(user: RosterTest.jid("alice@localhost"), contact: RosterTest.jid("carol@localhost")) {
            $0.item = RosterItem(jid: $0.contact, subscription: .to)
        }
        try await harness.store.update(user: RosterTest.jid("bob@localhost"), contact: RosterTest.jid("alice@localhost")) {
            $0.item = RosterItem(jid: $0.contact, subscription: .none, askSubscribe: true)
        }
        let carol = await harness.online("carol@localhost/c")
        let bob = await harness.online("bob@localhost/b")
        let alice = await harness.bind("alice@localhost/a")
        await alice.send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        _ = alice.take()
        await alice.send("<presence/>")
        let toAlice = alice.take()
        // §4.3.2: Carol's presence stays hidden; her server answers `unsubscribed`, which ends the
        // subscription Alice's server believed in.
        #expect(RosterTest.presences(toAlice) == [
            P(type: "available", from: "alice@localhost/a", to: "alice@localhost/a"),
            P(type: "unsubscribed", from: "carol@localhost", to: "alice@localhost"),
        ])
        #expect(RosterTest.pushes(toAlice) == [RosterPushSummary(jid: "carol@localhost", subscription: "none", version: "2")])
        #expect(carol.take().isEmpty, "the probe never reaches a client, and Carol is no subscriber")
        #expect(bob.take().isEmpty, "a pending request is not a subscription")
    }

    @Test func laterPresenceIsBroadcastWithoutProbing() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        _ = alice.take()
        await alice.send("<presence><show>dnd</show></presence>")
        #expect(RosterTest.presences(alice.take()) == [P(type: "available", from: "alice@localhost/a", to: "alice@localhost/a")])
        #expect(RosterTest.presences(bob.take()) == [P(type: "available", from: "alice@localhost/a", to: "bob@localhost")])
        #expect(alice.session.state.availablePresence?.child("show")?.text == "dnd")
        #expect(harness.availability.announcements(alice.jid) == 1)
    }

    @Test func theUsersResourcesSeeEachOther() async throws {
        let harness = try await RosterHarness()
        let first = await harness.online("alice@localhost/a")
        let second = await harness.bind("alice@localhost/b")
        await second.send("<presence/>")
        #expect(Set(RosterTest.presences(second.take())) == [
            P(type: "available", from: "alice@localhost/b", to: "alice@localhost/b"),
            P(type: "available", from: "alice@localhost/a", to: "alice@localhost/b"),
        ])
        #expect(RosterTest.presences(first.take()) == [P(type: "available", from: "alice@localhost/b", to: "alice@localhost/a")])
        await second.send("<presence type='unavailable'/>")
        #expect(RosterTest.presences(first.take()) == [P(type: "unavailable", from: "alice@localhost/b", to: "alice@localhost/a")])
    }

    @Test func priorityIsParsedAndAnInvalidOneIsRefused() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.bind("alice@localhost/a")
        for bad in ["128", "-129", "high", "1.5", ""] {
            await alice.send("<presence><priority>\(bad)</priority></presence>")
            #expect(RosterTest.errorCondition(alice.take().first) == "bad-request", "priority '\(bad)'")
            #expect(!alice.session.isAvailable)
        }
        await alice.send("<presence><priority> -128 </priority></presence>")
        #expect(alice.session.isAvailable && alice.session.priority == -128)
        await alice.send("<presence><priority>127</priority></presence>")
        #expect(alice.session.priority == 127)
        await alice.send("<presence/>")
        #expect(alice.session.priority == 0)
    }

    @Test func unknownPresenceTypesAreBadRequests() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='invisible'/>")
        #expect(RosterTest.errorCondition(alice.take().first) == "bad-request")
    }

    @Test func unavailablePresenceGoesToSubscribersAndClearsTheState() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        _ = alice.take()
        await bob.send("<presence type='unavailable'><status>gone fishing</status></presence>")
        let toAlice = alice.take()
        #expect(RosterTest.presences(toAlice) == [P(type: "unavailable", from: "bob@localhost/b", to: "alice@localhost")])
        #expect(toAlice.first?.child("status")?.text == "gone fishing")
        #expect(!bob.session.isAvailable)

        // Available again: that is initial presence once more (probes, announcement).
        _ = bob.take()
        await bob.send("<presence/>")
        #expect(RosterTest.presences(bob.take()).contains(P(type: "available", from: "alice@localhost/a", to: "bob@localhost/b")))
        #expect(harness.availability.announcements(bob.jid) == 2)
    }

    @Test func aSessionThatEndsWithoutUnavailableIsAnnouncedUnavailable() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        let bobsOther = await harness.online("bob@localhost/other")
        _ = alice.take()
        _ = bob.take()
        await bob.unbind()
        #expect(RosterTest.presences(alice.take()) == [P(type: "unavailable", from: "bob@localhost/b", to: "alice@localhost")])
        #expect(RosterTest.presences(bobsOther.take()) == [P(type: "unavailable", from: "bob@localhost/b", to: "bob@localhost/other")])

        // A session that never became available leaves silently.
        let quiet = await harness.bind("bob@localhost/quiet")
        await quiet.unbind()
        #expect(alice.take().isEmpty)
    }

    @Test func directedPresenceIsRememberedAndEndedAtLogout() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        let carol = await harness.online("carol@localhost/c")
        _ = alice.take()

        // §4.6: Carol is no contact; Bob is a subscriber, so he needs no record.
        await alice.send("<presence to='carol@localhost/c'><show>chat</show></presence>")
        await alice.send("<presence to='bob@localhost/b'/>")
        #expect(RosterTest.presences(carol.take()) == [P(type: "available", from: "alice@localhost/a", to: "carol@localhost/c")])
        #expect(alice.session.state.directedPresence == [RosterTest.jid("carol@localhost/c")])
        _ = bob.take()

        await alice.unbind()
        #expect(RosterTest.presences(carol.take()) == [P(type: "unavailable", from: "alice@localhost/a", to: "carol@localhost/c")])
        #expect(RosterTest.presences(bob.take()) == [P(type: "unavailable", from: "alice@localhost/a", to: "bob@localhost")])
    }

    @Test func directedUnavailableEndsTheRecord() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        let carol = await harness.online("carol@localhost/c")
        await alice.send("<presence to='carol@localhost'/>")
        await alice.send("<presence type='unavailable' to='carol@localhost'/>")
        #expect(RosterTest.presences(carol.take()) == [
            P(type: "available", from: "alice@localhost/a", to: "carol@localhost"),
            P(type: "unavailable", from: "alice@localhost/a", to: "carol@localhost"),
        ])
        #expect(alice.session.state.directedPresence.isEmpty)
        await alice.unbind()
        #expect(carol.take().isEmpty)
    }

    @Test func directedPresenceBeforeInitialPresenceIsAlsoEnded() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let bob = await harness.online("bob@localhost/b")
        let alice = await harness.bind("alice@localhost/a")
        await alice.send("<presence to='bob@localhost'/>")
        #expect(RosterTest.presences(bob.take()).count == 1)
        await alice.unbind()
        #expect(RosterTest.presences(bob.take()) == [P(type: "unavailable", from: "alice@localhost/a", to: "bob@localhost")])
    }

    @Test func aClientProbeIsRoutedOnlyWithASubscription() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let bob = await harness.online("bob@localhost/b")
        let alice = await harness.online("alice@localhost/a")
        let carol = await harness.online("carol@localhost/c")
        _ = bob.take()
        await alice.send("<presence type='probe' to='bob@localhost'/>")
        #expect(RosterTest.presences(alice.take()) == [P(type: "available", from: "bob@localhost/b", to: "alice@localhost/a")])
        await carol.send("<presence type='probe' to='bob@localhost'/>")
        #expect(carol.take().isEmpty)
        #expect(bob.take().isEmpty)
    }

    @Test func deletingAnAccountEndsItsSubscriptionsAndRoster() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        let carol = await harness.online("carol@localhost/c")
        await carol.send("<presence type='subscribe' to='alice@localhost'/>")
        _ = bob.take()
        _ = carol.take()

        #expect(try await harness.kernel.deleteAccount(alice.jid))
        let toBob = bob.take()
        #expect(RosterTest.presences(toBob) == [
            P(type: "unavailable", from: "alice@localhost/a", to: "bob@localhost"),
            P(type: "unsubscribe", from: "alice@localhost", to: "bob@localhost"),
            P(type: "unsubscribed", from: "alice@localhost", to: "bob@localhost"),
        ])
        #expect(try await harness.item("bob@localhost", "alice@localhost")?.subscription == RosterSubscription.none)
        #expect(try await harness.item("carol@localhost", "alice@localhost")?.askSubscribe == false, "Carol's request was refused")
        #expect(try await harness.roster("alice@localhost").items.isEmpty)
        #expect(try await harness.store.pendingRequests(of: alice.jid).isEmpty)

        // The transport is closed by the kernel; when it unbinds nothing more is sent.
        await alice.unbind()
        #expect(bob.take().isEmpty)
    }

    @Test func adminMutualContactsPushAndExchangePresence() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        try await harness.module.makeMutualContacts(alice.jid, bob.jid, kernel: harness.kernel)
        let toAlice = alice.take()
        #expect(RosterTest.pushes(toAlice) == [RosterPushSummary(jid: "bob@localhost", subscription: "both", version: "1")])
        #expect(RosterTest.presences(toAlice) == [P(type: "available", from: "bob@localhost/b", to: "alice@localhost")])
        let toBob = bob.take()
        #expect(RosterTest.pushes(toBob) == [RosterPushSummary(jid: "alice@localhost", subscription: "both", version: "1")])
        #expect(RosterTest.presences(toBob) == [P(type: "available", from: "alice@localhost/a", to: "bob@localhost")])
    }

    @Test func presenceErrorsPassThrough() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        await alice.send("<presence type='error' to='bob@localhost/b'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")
        #expect(RosterTest.presences(bob.take()) == [P(type: "error", from: "alice@localhost/a", to: "bob@localhost/b")])
    }
}
