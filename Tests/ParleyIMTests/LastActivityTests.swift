import Foundation
import ParleyIM
import ParleyKernel
import ParleyStorage
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_700_000_000)) { current = Mutex(start) }
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

@Suite("Last activity (XEP-0012)")
struct LastActivityTests {
    private let ns = "jabber:iq:last"

    private func makeHarness(store: InMemoryLastActivityStore = InMemoryLastActivityStore(), clock: ManualClock,
                             allowBob: Bool = false) async throws -> ServiceHarness {
        let bobMaySee: @Sendable (JID, JID) async -> Bool = { requester, _ in requester.localpart == "bob" }
        let module = LastActivityModule(
            store: store, startedAt: clock.now, now: { clock.now }, canSeePresence: allowBob ? bobMaySee : nil)
        return try await ServiceHarness([module], accounts: ["alice", "bob", "carol"])
    }

    private func leave(_ harness: ServiceHarness, _ client: ServiceClient, status: String?) async {
        var presence = XElement("presence", namespace: NS.client, ["type": "unavailable", "from": client.jid.description])
        if let status { presence.append(textElement("status", namespace: NS.client, status)) }
        await harness.kernel.route(Stanza(presence)!, from: client.session)
        await harness.kernel.unbind(client.session)
    }

    private func seconds(_ reply: XElement?) -> String? { reply?.child("query", namespace: ns)?[attribute: "seconds"] }

    @Test func serverUptime() async throws {
        let clock = ManualClock()
        let harness = try await makeHarness(clock: clock)
        let alice = await harness.login("alice@localhost/a")
        clock.advance(by: 123.9)
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: ns))
        #expect(seconds(reply) == "123")
        #expect(reply?.child("query")?.text == "")
        #expect(harness.kernel.serverFeatures.contains(ns))
    }

    @Test func anOnlineAccountIsZero() async throws {
        // §3: a connected resource MUST give seconds='0' and an empty query.
        let clock = ManualClock()
        let store = InMemoryLastActivityStore()
        try await store.setLastActivity(LastActivityRecord(timestamp: 1, status: "old"), username: "alice", host: "localhost")
        let harness = try await makeHarness(store: store, clock: clock, allowBob: true)
        let alice = await harness.login("alice@localhost/a")
        let bob = await harness.login("bob@localhost/b")
        for (client, to) in [(alice, nil), (alice, "alice@localhost"), (bob, "alice@localhost")] as [(ServiceClient, String?)] {
            let reply = await harness.iq(client, "get", to: to, XElement("query", namespace: ns))
            #expect(seconds(reply) == "0")
            #expect(reply?.child("query")?.children.isEmpty == true)
        }
    }

    @Test func theLastLogoutAndItsStatusAreReported() async throws {
        let clock = ManualClock()
        let store = InMemoryLastActivityStore()
        let harness = try await makeHarness(store: store, clock: clock, allowBob: true)
        let phone = await harness.login("alice@localhost/phone")
        let laptop = await harness.login("alice@localhost/laptop")
        let bob = await harness.login("bob@localhost/b")

        await leave(harness, phone, status: "on the phone")
        // Another session is still there: nothing recorded, still online.
        #expect(try await store.lastActivity(username: "alice", host: "localhost") == nil)
        #expect(seconds(await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: ns))) == "0")

        await leave(harness, laptop, status: "Heading Home")
        clock.advance(by: 903)
        let reply = await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: ns))
        #expect(reply?[attribute: "from"] == "alice@localhost")
        #expect(seconds(reply) == "903")
        #expect(reply?.child("query")?.text == "Heading Home")
    }

    @Test func aLogoutWithoutStatusHasNoText() async throws {
        let clock = ManualClock()
        let harness = try await makeHarness(clock: clock, allowBob: true)
        let alice = await harness.login("alice@localhost/a")
        let bob = await harness.login("bob@localhost/b")
        // The unavailable status is forgotten once the session is available again.
        await harness.kernel.route(Stanza(XElement("presence", namespace: NS.client, ["type": "unavailable"], children: [
            .element(textElement("status", namespace: NS.client, "brb"))]))!, from: alice.session)
        await harness.kernel.route(Stanza(XElement("presence", namespace: NS.client))!, from: alice.session)
        await harness.kernel.unbind(alice.session)
        clock.advance(by: 5)
        let reply = await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: ns))
        #expect(seconds(reply) == "5")
        #expect(reply?.child("query")?.children.isEmpty == true)
    }

    @Test func othersAreForbidden() async throws {
        // §3: MUST be forbidden to those not allowed to see the user's presence.
        let clock = ManualClock()
        let harness = try await makeHarness(clock: clock)
        let bob = await harness.login("bob@localhost/b")
        let offline = await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: ns))
        #expect(stanzaErrorCondition(offline) == "forbidden")
        #expect(stanzaErrorType(offline) == "auth")
        _ = await harness.login("alice@localhost/a")
        // Also while online: the answer would leak availability.
        #expect(stanzaErrorCondition(await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: ns))) == "forbidden")
    }

    @Test func noRecordIsItemNotFound() async throws {
        let harness = try await makeHarness(clock: ManualClock(), allowBob: true)
        let bob = await harness.login("bob@localhost/b")
        #expect(stanzaErrorCondition(await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: ns))) == "item-not-found")
    }

    @Test func fullJIDQueriesFromOthersAreForbiddenAndNotDelivered() async throws {
        // §4: MUST NOT be delivered to the resource; MUST be forbidden.
        let harness = try await makeHarness(clock: ManualClock())
        let alice = await harness.login("alice@localhost/a")
        let carol = await harness.login("carol@localhost/c")
        let reply = await harness.iq(carol, "get", to: "alice@localhost/a", XElement("query", namespace: ns))
        #expect(stanzaErrorCondition(reply) == "forbidden")
        #expect(reply?[attribute: "from"] == "alice@localhost/a")
        #expect(alice.delivered.isEmpty)
        // An offline resource answers the same, so nothing leaks.
        let absent = await harness.iq(carol, "get", to: "alice@localhost/gone", XElement("query", namespace: ns))
        #expect(stanzaErrorCondition(absent) == "forbidden")

        // The account's own other resource, and allowed contacts, reach the resource.
        let phone = await harness.login("alice@localhost/phone")
        var iq = XElement("iq", namespace: NS.client, ["type": "get", "id": "own", "to": "alice@localhost/a", "from": "alice@localhost/phone"])
        iq.append(XElement("query", namespace: ns))
        await harness.kernel.route(Stanza(iq)!, from: phone.session)
        #expect(alice.delivered.map { $0[attribute: "id"] } == ["own"])
    }

    @Test func aReplacedSessionIsNotALogout() async throws {
        let store = InMemoryLastActivityStore()
        let harness = try await makeHarness(store: store, clock: ManualClock())
        _ = await harness.login("alice@localhost/a")
        _ = await harness.login("alice@localhost/a")
        #expect(try await store.lastActivity(username: "alice", host: "localhost") == nil)
    }

    @Test func deletingTheAccountDeletesTheRecordForGood() async throws {
        let clock = ManualClock()
        let store = InMemoryLastActivityStore()
        let harness = try await makeHarness(store: store, clock: clock)
        let first = await harness.login("alice@localhost/a")
        await leave(harness, first, status: "bye")
        #expect(try await store.lastActivity(username: "alice", host: "localhost") != nil)
        let second = await harness.login("alice@localhost/a")
        _ = try await harness.kernel.deleteAccount(try JID("alice@localhost"))
        #expect(try await store.lastActivity(username: "alice", host: "localhost") == nil)
        // The terminated session closes after the deletion; that is no logout to record.
        await harness.kernel.unbind(second.session)
        #expect(try await store.lastActivity(username: "alice", host: "localhost") == nil)
    }
}
