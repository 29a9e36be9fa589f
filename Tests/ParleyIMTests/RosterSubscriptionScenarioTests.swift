import ParleyKernel
@testable import ParleySQLite
import ParleyStorage
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

@Suite("Presence subscriptions (RFC 6121 §3)")
struct RosterSubscriptionScenarioTests {
    typealias P = RosterPresenceSummary
    typealias Push = RosterPushSummary

    @Test func twoOnlineUsersSubscribeToEachOther() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")

        // §3.1.2: the request is stamped with bare JIDs, even when sent to a full JID.
        await alice.send("<presence type='subscribe' to='bob@localhost/phone' id='sub1'><status>hi</status></presence>")
        #expect(RosterTest.pushes(alice.take()) == [Push(jid: "bob@localhost", subscription: "none", ask: "subscribe", version: "1")])
        let request = bob.take()
        #expect(RosterTest.presences(request) == [P(type: "subscribe", from: "alice@localhost", to: "bob@localhost")])
        #expect(request.first?.child("status")?.text == "hi", "the request keeps its payload")
        #expect(RosterTest.pushes(request).isEmpty, "a contact that only asked is not on the roster")

        // §3.1.5: Bob approves; Alice's server pushes, delivers, and Alice gets Bob's presence.
        await bob.send("<presence type='subscribed' to='alice@localhost'/>")
        #expect(RosterTest.pushes(bob.take()) == [Push(jid: "alice@localhost", subscription: "from", version: "1")])
        let approval = alice.take()
        #expect(RosterTest.pushes(approval) == [Push(jid: "bob@localhost", subscription: "to", version: "2")])
        #expect(RosterTest.presences(approval) == [
            P(type: "subscribed", from: "bob@localhost", to: "alice@localhost"),
            P(type: "available", from: "bob@localhost/b", to: "alice@localhost"),
        ])

        // And back.
        await bob.send("<presence type='subscribe' to='alice@localhost'/>")
        #expect(RosterTest.pushes(bob.take()) == [Push(jid: "alice@localhost", subscription: "from", ask: "subscribe", version: "2")])
        #expect(RosterTest.presences(alice.take()) == [P(type: "subscribe", from: "bob@localhost", to: "alice@localhost")])
        await alice.send("<presence type='subscribed' to='bob@localhost'/>")
        #expect(RosterTest.pushes(alice.take()) == [Push(jid: "bob@localhost", subscription: "both", version: "3")])
        let toBob = bob.take()
        #expect(RosterTest.pushes(toBob) == [Push(jid: "alice@localhost", subscription: "both", version: "3")])
        #expect(RosterTest.presences(toBob) == [
            P(type: "subscribed", from: "alice@localhost", to: "bob@localhost"),
            P(type: "available", from: "alice@localhost/a", to: "bob@localhost"),
        ])

        #expect(try await harness.entry("alice@localhost", "bob@localhost") == RosterEntry(
            contact: RosterTest.jid("bob@localhost"), item: RosterItem(jid: RosterTest.jid("bob@localhost"), subscription: .both)))
        #expect(try await harness.item("bob@localhost", "alice@localhost")?.subscription == .both)
    }

    @Test func aRequestToAnOfflineUserWaitsForTheirInitialPresence() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        _ = alice.take()
        #expect(try await harness.entry("bob@localhost", "alice@localhost").pendingIn != nil)

        // Bob logs in: the roster does not show Alice; initial presence brings the request (§3.1.3).
        let bob = await harness.bind("bob@localhost/b")
        await bob.send("<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>")
        #expect(bob.take().first?.child("query", namespace: RosterNamespaces.roster)?.elements.isEmpty == true)
        await bob.send("<presence/>")
        #expect(RosterTest.presences(bob.take()).filter { $0.type == "subscribe" } == [
            P(type: "subscribe", from: "alice@localhost", to: "bob@localhost"),
        ])
        #expect(harness.availability.announcements(bob.jid) == 1, "other modules hear about the initial presence")

        // Unanswered, it comes again at the next login.
        await bob.unbind()
        let bobAgain = await harness.bind("bob@localhost/b2")
        await bobAgain.send("<presence/>")
        #expect(RosterTest.presences(bobAgain.take()).filter { $0.type == "subscribe" }.count == 1)

        // Answered, it is gone, and Alice's server hears of it.
        await bobAgain.send("<presence type='subscribed' to='alice@localhost'/>")
        #expect(try await harness.entry("bob@localhost", "alice@localhost").pendingIn == nil)
        #expect(RosterTest.presences(alice.take()) == [
            P(type: "subscribed", from: "bob@localhost", to: "alice@localhost"),
            P(type: "available", from: "bob@localhost/b2", to: "alice@localhost"),
        ])
        await bobAgain.unbind()
        let third = await harness.bind("bob@localhost/b3")
        await third.send("<presence/>")
        #expect(RosterTest.presences(third.take()).filter { $0.type == "subscribe" }.isEmpty)
    }

    @Test func aRequestIsDeliveredToEveryAvailableResourceButNotTwice() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        let phone = await harness.online("bob@localhost/phone")
        let laptop = await harness.online("bob@localhost/laptop")
        let quiet = await harness.bind("bob@localhost/quiet")
        _ = phone.take()  // the laptop's presence
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        for client in [phone, laptop] {
            #expect(RosterTest.presences(client.take()) == [P(type: "subscribe", from: "alice@localhost", to: "bob@localhost")])
        }
        #expect(quiet.take().isEmpty, "a resource that is not available gets nothing")
        // The second request changed nothing, so Alice got one push only.
        #expect(RosterTest.pushes(alice.take()).count == 1)
    }

    @Test func preApprovalAnswersTheLaterRequest() async throws {
        let harness = try await RosterHarness()
        let bob = await harness.online("bob@localhost/b")
        let alice = await harness.online("alice@localhost/a")

        // §3.4.2: `subscribed` with no request pre-approves and is not routed.
        await bob.send("<presence type='subscribed' to='alice@localhost'/>")
        #expect(RosterTest.pushes(bob.take()) == [Push(jid: "alice@localhost", subscription: "none", approved: "true", version: "1")])
        #expect(alice.take().isEmpty)

        // §3.4: Alice's request is approved by Bob's server; Bob is not asked.
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        #expect(RosterTest.pushes(bob.take()) == [Push(jid: "alice@localhost", subscription: "from", version: "2")])
        let toAlice = alice.take()
        #expect(RosterTest.pushes(toAlice).last == Push(jid: "bob@localhost", subscription: "to", version: "2"))
        #expect(RosterTest.presences(toAlice) == [
            P(type: "subscribed", from: "bob@localhost", to: "alice@localhost"),
            P(type: "available", from: "bob@localhost/b", to: "alice@localhost"),
        ])
    }

    @Test func unsubscribedCancelsAPreApproval() async throws {
        let harness = try await RosterHarness()
        let bob = await harness.online("bob@localhost/b")
        let alice = await harness.online("alice@localhost/a")
        await bob.send("<presence type='subscribed' to='alice@localhost'/>")
        await bob.send("<presence type='unsubscribed' to='alice@localhost'/>")
        #expect(RosterTest.pushes(bob.take()).last == Push(jid: "alice@localhost", subscription: "none", version: "2"))
        #expect(alice.take().isEmpty)
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        #expect(RosterTest.presences(bob.take()) == [P(type: "subscribe", from: "alice@localhost", to: "bob@localhost")])
    }

    @Test func preApprovalIsIgnoredWhenNotOffered() async throws {
        let harness = try await RosterHarness(options: .init(preApproval: false))
        let bob = await harness.online("bob@localhost/b")
        let alice = await harness.online("alice@localhost/a")
        await bob.send("<presence type='subscribed' to='alice@localhost'/>")
        #expect(bob.take().isEmpty)
        #expect(alice.take().isEmpty)
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        #expect(RosterTest.presences(bob.take()) == [P(type: "subscribe", from: "alice@localhost", to: "bob@localhost")])
    }

    @Test func anExistingSubscriberAskingAgainIsAnsweredByTheServer() async throws {
        let harness = try await RosterHarness()
        // Out of sync: Bob's server has Alice as a subscriber, Alice's server lost that and asks again.
        try await harness.store.update(user: RosterTest.jid("bob@localhost"), contact: RosterTest.jid("alice@localhost")) {
            $0.item = RosterItem(jid: $0.contact, subscription: .from)
        }
        let bob = await harness.online("bob@localhost/b")
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        #expect(bob.take().isEmpty, "§3.1.3: Bob is not asked again")
        let toAlice = alice.take()
        #expect(RosterTest.presences(toAlice) == [
            P(type: "subscribed", from: "bob@localhost", to: "alice@localhost"),
            P(type: "available", from: "bob@localhost/b", to: "alice@localhost"),
        ])
        #expect(try await harness.item("alice@localhost", "bob@localhost")?.subscription == .to)
    }

    @Test func unsubscribeAndUnsubscribedEndTheSubscriptionsWithUnavailablePresence() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        _ = alice.take()

        // §3.3: Alice stops receiving Bob's presence. Bob's server tells Alice he is unavailable.
        await alice.send("<presence type='unsubscribe' to='bob@localhost'/>")
        let toAlice = alice.take()
        #expect(RosterTest.pushes(toAlice) == [Push(jid: "bob@localhost", subscription: "from", version: "2")])
        #expect(RosterTest.presences(toAlice) == [P(type: "unavailable", from: "bob@localhost/b", to: "alice@localhost")])
        var toBob = bob.take()
        #expect(RosterTest.pushes(toBob) == [Push(jid: "alice@localhost", subscription: "to", version: "2")])
        #expect(RosterTest.presences(toBob) == [P(type: "unsubscribe", from: "alice@localhost", to: "bob@localhost")])

        // §3.2: Alice cancels Bob's subscription to her; Bob is told she is unavailable.
        await alice.send("<presence type='unsubscribed' to='bob@localhost'/>")
        #expect(RosterTest.pushes(alice.take()) == [Push(jid: "bob@localhost", subscription: "none", version: "3")])
        toBob = bob.take()
        #expect(RosterTest.pushes(toBob) == [Push(jid: "alice@localhost", subscription: "none", version: "3")])
        #expect(RosterTest.presences(toBob) == [
            P(type: "unsubscribed", from: "alice@localhost", to: "bob@localhost"),
            P(type: "unavailable", from: "alice@localhost/a", to: "bob@localhost"),
        ])

        // Nothing left to cancel: further stanzas change nothing and are not delivered.
        await alice.send("<presence type='unsubscribed' to='bob@localhost'/>")
        await alice.send("<presence type='unsubscribe' to='bob@localhost'/>")
        #expect(alice.take().isEmpty)
        #expect(bob.take().isEmpty)
        // The items stay on both rosters until the users remove them.
        #expect(try await harness.roster("alice@localhost").items == [RosterItem(jid: RosterTest.jid("bob@localhost"))])
        #expect(try await harness.roster("bob@localhost").items == [RosterItem(jid: RosterTest.jid("alice@localhost"))])
    }

    @Test func denyingARequestLeavesNoTrace() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        _ = bob.take()
        _ = alice.take()
        await bob.send("<presence type='unsubscribed' to='alice@localhost'/>")
        #expect(bob.take().isEmpty)
        #expect(try await harness.entry("bob@localhost", "alice@localhost").isEmpty)
        let toAlice = alice.take()
        #expect(RosterTest.pushes(toAlice) == [Push(jid: "bob@localhost", subscription: "none", version: "2")])
        #expect(RosterTest.presences(toAlice) == [P(type: "unsubscribed", from: "bob@localhost", to: "alice@localhost")])
    }

    @Test func aWithdrawnRequestIsNotDeliveredAtLogin() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        await alice.send("<presence type='unsubscribe' to='bob@localhost'/>")
        #expect(try await harness.entry("bob@localhost", "alice@localhost").isEmpty)
        let bob = await harness.bind("bob@localhost/b")
        await bob.send("<presence/>")
        #expect(RosterTest.presences(bob.take()).allSatisfy { $0.type != "subscribe" })
    }

    @Test func aRequestForAMissingAccountIsRefused() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='subscribe' to='ghost@localhost'/>")
        let replies = alice.take()
        #expect(RosterTest.pushes(replies) == [
            Push(jid: "ghost@localhost", subscription: "none", ask: "subscribe", version: "1"),
            Push(jid: "ghost@localhost", subscription: "none", version: "2"),
        ])
        #expect(RosterTest.presences(replies) == [P(type: "unsubscribed", from: "ghost@localhost", to: "alice@localhost")])
    }

    @Test func subscriptionStanzasToOneselfAreDropped() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        for type in ["subscribe", "subscribed", "unsubscribe", "unsubscribed"] {
            await alice.send("<presence type='\(type)' to='alice@localhost'/>")
            await alice.send("<presence type='\(type)'/>")
        }
        #expect(alice.take().isEmpty)
        #expect(try await harness.roster("alice@localhost") == Roster(version: 0, items: []))
    }

    @Test func aMalformedAddressIsJIDMalformed() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='subscribe' to='a@b@c'/>")
        #expect(RosterTest.errorCondition(alice.take().first) == "jid-malformed")
        #expect(try await harness.roster("alice@localhost").items.isEmpty)
    }

    @Test func inboundAnswersNobodyAskedForAreNotDelivered() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        // A.3.3 / A.3.4: subscribed or unsubscribed with nothing pending changes and delivers nothing.
        await harness.dispatch("<presence type='subscribed' from='mallory@localhost' to='alice@localhost'/>")
        await harness.dispatch("<presence type='unsubscribed' from='mallory@localhost' to='alice@localhost/a'/>")
        await harness.dispatch("<presence type='unsubscribe' from='mallory@localhost' to='alice@localhost'/>")
        #expect(alice.take().isEmpty)
        #expect(try await harness.entry("alice@localhost", "mallory@localhost").isEmpty)
    }

    @Test func theHandshakeWorksOnTheSQLiteStore() async throws {
        let registered = Set(SQLiteDatabase.migrations.map(\.identifier))
        let migrations = SQLiteDatabase.migrations + SQLiteRosterStore.migrations.filter { !registered.contains($0.identifier) }
        let store = SQLiteRosterStore(database: try SQLiteDatabase.inMemory(migrations: migrations))
        let harness = try await RosterHarness(store: store)
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='subscribe' to='bob@localhost'><status>it's me &amp; &lt;you&gt;</status></presence>")
        let bob = await harness.bind("bob@localhost/b")
        await bob.send("<presence/>")
        let request = try #require(bob.take().first { $0[attribute: "type"] == "subscribe" })
        #expect(request.child("status")?.text == "it's me & <you>")
        await bob.send("<presence type='subscribed' to='alice@localhost'/>")
        #expect(try await harness.item("alice@localhost", "bob@localhost")?.subscription == .to)
        #expect(try await harness.item("bob@localhost", "alice@localhost")?.subscription == .from)
    }
}
