import ParleyKernel
import ParleyStorage
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

@Suite("Roster get and set (RFC 6121 §2)")
struct RosterIQTests {
    @Test func streamFeaturesOfferVersioningAndPreApproval() async throws {
        let harness = try await RosterHarness()
        let features = harness.kernel.streamFeatures.map { "\($0.name) \($0.namespace)" }
        #expect(features.contains("ver urn:xmpp:features:rosterver"))
        #expect(features.contains("sub urn:xmpp:features:pre-approval"))

        let without = try await RosterHarness(options: .init(preApproval: false))
        #expect(!without.kernel.streamFeatures.contains { $0.namespace == RosterNamespaces.preApproval })
    }

    @Test func rosterGetReturnsItemsAndVersionAndMarksTheResourceInterested() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.bind("alice@localhost/a")
        #expect(!alice.session.state.interestedInRoster)

        await alice.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
        let reply = try #require(alice.take().first)
        #expect(reply[attribute: "type"] == "result")
        #expect(reply[attribute: "id"] == "r1")
        let query = try #require(reply.child("query", namespace: RosterNamespaces.roster))
        #expect(query[attribute: "ver"] == "1")
        let items = query.elements
        #expect(items.count == 1)
        #expect(items.first?[attribute: "jid"] == "bob@localhost")
        #expect(items.first?[attribute: "subscription"] == "both")
        #expect(alice.session.state.interestedInRoster)
    }

    @Test func rosterVersioningAnswersACurrentCacheWithAnEmptyResult() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.bind("alice@localhost/a")
        // Empty roster, version 0: a client caching "0" is current.
        await alice.send("<iq type='get' id='v0'><query xmlns='jabber:iq:roster' ver='0'/></iq>")
        var reply = try #require(alice.take().first)
        #expect(reply[attribute: "type"] == "result" && reply.elements.isEmpty)

        await alice.send("<iq type='set' id='s1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>")
        #expect(RosterTest.pushes(alice.take()).map(\.version) == ["1"])

        // A stale version gets the full roster; an empty string means "nothing cached".
        for stale in ["0", "", "garbage"] {
            await alice.send("<iq type='get' id='v'><query xmlns='jabber:iq:roster' ver='\(stale)'/></iq>")
            reply = try #require(alice.take().first)
            #expect(reply.child("query", namespace: RosterNamespaces.roster)?[attribute: "ver"] == "1")
            #expect(reply.child("query", namespace: RosterNamespaces.roster)?.elements.count == 1)
        }
        await alice.send("<iq type='get' id='v1'><query xmlns='jabber:iq:roster' ver='1'/></iq>")
        let current = alice.take()
        #expect(current.count == 1, "no pushes follow when nothing changed")
        #expect(current.first?[attribute: "type"] == "result" && current.first?.elements.isEmpty == true)
    }

    @Test func rosterSetPushesToEveryInterestedResource() async throws {
        let harness = try await RosterHarness()
        let first = await harness.online("alice@localhost/a")
        let second = await harness.online("alice@localhost/b")
        let uninterested = await harness.bind("alice@localhost/c")

        await first.send("""
            <iq type='set' id='add'><query xmlns='jabber:iq:roster'>
            <item jid='Bob@LocalHost' name='Bob'><group>Friends</group><group>Work</group></item></query></iq>
            """)
        let expected = RosterPushSummary(jid: "bob@localhost", subscription: "none", name: "Bob", groups: ["Friends", "Work"], version: "1")
        let toFirst = first.take()
        #expect(RosterTest.pushes(toFirst) == [expected])
        #expect(toFirst.last?[attribute: "type"] == "result" && toFirst.last?[attribute: "id"] == "add")
        let push = try #require(second.take().first)
        #expect(RosterTest.pushes([push]) == [expected])
        #expect(push[attribute: "from"] == nil, "a push comes from the user's own account (§2.1.6)")
        #expect(push[attribute: "to"] == "alice@localhost/b")
        #expect(uninterested.take().isEmpty)

        // An update replaces name and groups (§2.4).
        await second.send("<iq type='set' id='upd'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'><group>Work</group></item></query></iq>")
        let update = RosterPushSummary(jid: "bob@localhost", subscription: "none", groups: ["Work"], version: "2")
        #expect(RosterTest.pushes(first.take()) == [update])
        #expect(RosterTest.pushes(second.take()) == [update])
        #expect(try await harness.item("alice@localhost", "bob@localhost") == RosterItem(jid: RosterTest.jid("bob@localhost"), groups: ["Work"]))
    }

    @Test func rosterSetIgnoresSubscriptionAskAndApproved() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        // §2.1.2.5: every subscription value but "remove" is ignored; ask and approved are the server's.
        await alice.send("""
            <iq type='set' id='s'><query xmlns='jabber:iq:roster'>
            <item jid='bob@localhost' subscription='both' ask='subscribe' approved='true'/></query></iq>
            """)
        #expect(RosterTest.pushes(alice.take()) == [RosterPushSummary(jid: "bob@localhost", subscription: "none", version: "1")])
        #expect(try await harness.item("alice@localhost", "bob@localhost") == RosterItem(jid: RosterTest.jid("bob@localhost")))
    }

    static let badSets: [(String, String)] = [
        // §2.3.3: more than one item.
        ("<item jid='bob@localhost'/><item jid='carol@localhost'/>", "bad-request"),
        // §2.3.3: duplicate groups.
        ("<item jid='bob@localhost'><group>A</group><group>A</group></item>", "bad-request"),
        // §2.3.3: an empty group.
        ("<item jid='bob@localhost'><group></group></item>", "not-acceptable"),
        // §2.3.3: a name or group over the server's limit.
        ("<item jid='bob@localhost' name='\(String(repeating: "n", count: 1025))'/>", "not-acceptable"),
        ("<item jid='bob@localhost'><group>\(String(repeating: "é", count: 513))</group></item>", "not-acceptable"),
        // No item, no jid, a malformed or full JID, the user's own JID.
        ("", "bad-request"),
        ("<item name='x'/>", "bad-request"),
        ("<item jid='a@b@c'/>", "jid-malformed"),
        ("<item jid='bob@localhost/phone'/>", "jid-malformed"),
        ("<item jid='alice@localhost'/>", "not-allowed"),
    ]

    @Test(arguments: badSets)
    func invalidRosterSetsAreRefused(_ item: String, _ condition: String) async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<iq type='set' id='bad'><query xmlns='jabber:iq:roster'>\(item)</query></iq>")
        let replies = alice.take()
        #expect(replies.count == 1, "an error and no push")
        #expect(replies.first?[attribute: "type"] == "error" && replies.first?[attribute: "id"] == "bad")
        #expect(RosterTest.errorCondition(replies.first) == condition)
        #expect(try await harness.roster("alice@localhost") == Roster(version: 0, items: []))
    }

    @Test func limitsAreUTF8BytesAndInclusive() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        let name = String(repeating: "n", count: 1024)
        let group = String(repeating: "é", count: 512)
        await alice.send("<iq type='set' id='ok'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='\(name)'><group>\(group)</group></item></query></iq>")
        #expect(alice.take().last?[attribute: "type"] == "result")
    }

    @Test func anotherUsersRosterIsForbidden() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        for type in ["get", "set"] {
            await alice.send("<iq type='\(type)' id='x' to='bob@localhost'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'/></query></iq>")
            #expect(RosterTest.errorCondition(alice.take().first) == "forbidden")
        }
        // An IQ addressed to the user's own bare JID is the user's own roster.
        await alice.send("<iq type='get' id='own' to='alice@localhost'><query xmlns='jabber:iq:roster'/></iq>")
        #expect(alice.take().first?[attribute: "type"] == "result")
        #expect(try await harness.roster("bob@localhost").items.isEmpty)
    }

    @Test func removingAMissingItemIsItemNotFound() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>")
        let replies = alice.take()
        #expect(replies.count == 1)
        #expect(RosterTest.errorCondition(replies.first) == "item-not-found")
    }

    @Test func removingAnItemCancelsBothSubscriptionsAndPushesTheRemoval() async throws {
        let harness = try await RosterHarness()
        try await harness.befriend("alice@localhost", "bob@localhost")
        let alice = await harness.online("alice@localhost/a")
        let bob = await harness.online("bob@localhost/b")
        _ = alice.take()

        await alice.send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>")
        let toAlice = alice.take()
        #expect(RosterTest.pushes(toAlice) == [RosterPushSummary(jid: "bob@localhost", subscription: "remove", version: "2")])
        #expect(toAlice.last?[attribute: "type"] == "result")
        #expect(try await harness.entry("alice@localhost", "bob@localhost").isEmpty)

        // §2.5.2: Bob's server got unsubscribe and unsubscribed; Bob sees both, his roster shows none,
        // and he is told Alice is unavailable (§3.2.2).
        let toBob = bob.take()
        let presences = RosterTest.presences(toBob)
        #expect(presences.contains(RosterPresenceSummary(type: "unsubscribe", from: "alice@localhost", to: "bob@localhost")))
        #expect(presences.contains(RosterPresenceSummary(type: "unsubscribed", from: "alice@localhost", to: "bob@localhost")))
        #expect(presences.contains(RosterPresenceSummary(type: "unavailable", from: "alice@localhost/a", to: "bob@localhost")))
        #expect(RosterTest.pushes(toBob).last == RosterPushSummary(jid: "alice@localhost", subscription: "none", version: "3"))
        #expect(try await harness.item("bob@localhost", "alice@localhost")?.subscription == RosterSubscription.none)
    }

    @Test func removingAnItemWithAPendingRequestCancelsTheRequest() async throws {
        let harness = try await RosterHarness()
        let alice = await harness.online("alice@localhost/a")
        await alice.send("<presence type='subscribe' to='bob@localhost'/>")
        _ = alice.take()
        #expect(try await harness.entry("bob@localhost", "alice@localhost").pendingIn != nil)

        await alice.send("<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>")
        #expect(try await harness.entry("bob@localhost", "alice@localhost").isEmpty, "Bob's server dropped the request")
    }

    @Test func aSecondResourceSeesTheRosterThroughPushesAndVersions() async throws {
        let harness = try await RosterHarness()
        let first = await harness.online("alice@localhost/a")
        let second = await harness.bind("alice@localhost/b")
        await first.send("<iq type='set' id='1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/></query></iq>")
        #expect(second.take().isEmpty, "not interested yet")
        await second.send("<iq type='get' id='g'><query xmlns='jabber:iq:roster' ver='0'/></iq>")
        #expect(second.take().first?.child("query", namespace: RosterNamespaces.roster)?.elements.count == 1)
        await first.send("<iq type='set' id='2'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'/></query></iq>")
        #expect(RosterTest.pushes(second.take()).map(\.jid) == ["carol@localhost"])
    }

    @Test func theStoreFailingIsAnInternalServerError() async throws {
        let harness = try await RosterHarness(store: FailingRosterStore())
        let alice = await harness.bind("alice@localhost/a")
        await alice.send("<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>")
        #expect(RosterTest.errorCondition(alice.take().first) == "internal-server-error")
    }
}

/// A store whose every call fails, as a broken database would.
struct FailingRosterStore: RosterStore {
    func roster(of user: JID) async throws -> Roster { throw RosterStoreError.backend("down") }
    func entry(of user: JID, contact: JID) async throws -> RosterEntry { throw RosterStoreError.backend("down") }
    func pendingRequests(of user: JID) async throws -> [RosterEntry] { throw RosterStoreError.backend("down") }
    func update<Result: Sendable>(
        user: JID, contact: JID, _ body: @escaping @Sendable (inout RosterEntry) throws -> Result
    ) async throws -> RosterChange<Result> { throw RosterStoreError.backend("down") }
    func deleteRoster(of user: JID) async throws { throw RosterStoreError.backend("down") }
}
