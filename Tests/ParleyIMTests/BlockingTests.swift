import ParleyKernel
import ParleyStorage
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

@Suite("Blocking command (XEP-0191)")
struct BlockingTests {
    static let ns = "urn:xmpp:blocking"
    static let alice = try! JID("alice@localhost")

    static func command(_ name: String, _ jids: [String]) -> XElement {
        XElement(name, namespace: ns, children: jids.map { .element(XElement("item", namespace: ns, ["jid": $0])) })
    }

    private func block(_ h: MessagingHarness, _ client: MessagingClient, _ jids: String...,
                       sourceLocation: SourceLocation = #_sourceLocation) async {
        let reply = await h.iq(client, "set", Self.command("block", jids), sourceLocation: sourceLocation)
        #expect(reply?[attribute: "type"] == "result", sourceLocation: sourceLocation)
    }

    private func unblock(_ h: MessagingHarness, _ client: MessagingClient, _ jids: String...,
                         sourceLocation: SourceLocation = #_sourceLocation) async {
        let reply = await h.iq(client, "set", Self.command("unblock", jids), sourceLocation: sourceLocation)
        #expect(reply?[attribute: "type"] == "result", sourceLocation: sourceLocation)
    }

    private func listed(_ h: MessagingHarness, _ client: MessagingClient) async -> [String]? {
        let reply = await h.iq(client, "get", XElement("blocklist", namespace: Self.ns))
        return reply?.child("blocklist", namespace: Self.ns)?.elements.compactMap { $0[attribute: "jid"] }
    }

    private func blockedCondition(_ element: XElement?) -> Bool {
        element?.child("error")?.child("blocked", namespace: "urn:xmpp:blocking:errors") != nil
    }

    @Test func theListStartsEmptyAndHoldsWhatWasBlocked() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        #expect(h.kernel.serverFeatures.contains(Self.ns))
        let alice = await h.login("alice@localhost/a")
        let empty = await h.iq(alice, "get", XElement("blocklist", namespace: Self.ns))
        #expect(empty?[attribute: "type"] == "result")
        #expect(empty?.child("blocklist", namespace: Self.ns)?.elements.isEmpty == true)
        await block(h, alice, "romeo@montague.example", "iago@shakespeare.example", "ROMEO@montague.example")
        #expect(await listed(h, alice) == ["iago@shakespeare.example", "romeo@montague.example"])
    }

    @Test func malformedCommandsAreRefused() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let alice = await h.login("alice@localhost/a")
        // §3.3: a block without items is a bad request.
        #expect(MessagingHarness.errorCondition(await h.iq(alice, "set", Self.command("block", []))) == "bad-request")
        let noJID = XElement("block", namespace: Self.ns, children: [.element(XElement("item", namespace: Self.ns))])
        #expect(MessagingHarness.errorCondition(await h.iq(alice, "set", noJID)) == "bad-request")
        #expect(MessagingHarness.errorCondition(await h.iq(alice, "set", Self.command("block", ["ok@localhost", "a@b@c"]))) == "jid-malformed")
        #expect(MessagingHarness.errorCondition(await h.iq(alice, "set", Self.command("unblock", ["@nope"]))) == "jid-malformed")
        #expect(await listed(h, alice) == [], "a refused command changes nothing")
    }

    @Test func anotherUsersListIsNotReachable() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let bob = await h.login("bob@localhost/b")
        _ = await h.login("alice@localhost/a")
        let reply = await h.iq(bob, "get", to: "alice@localhost", XElement("blocklist", namespace: Self.ns))
        #expect(MessagingHarness.errorCondition(reply) == "forbidden")
        let set = await h.iq(bob, "set", to: "alice@localhost", Self.command("block", ["carol@localhost"]))
        #expect(MessagingHarness.errorCondition(set) == "forbidden")
    }

    @Test func theListIsLimited() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore(), maxItems: 2)])
        let alice = await h.login("alice@localhost/a")
        await block(h, alice, "a@x.example", "b@x.example")
        await block(h, alice, "a@x.example")  // already there: no growth
        #expect(MessagingHarness.errorCondition(await h.iq(alice, "set", Self.command("block", ["c@x.example"]))) == "policy-violation")
        #expect(await listed(h, alice) == ["a@x.example", "b@x.example"])
    }

    @Test func inboundStanzasFromABlockedJIDDoNotReachTheUser() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore()), PingModule()])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/b")
        await block(h, alice, "bob@localhost")
        alice.clear()
        bob.clear()

        await h.sendMessage(bob, to: "alice@localhost", id: "m1")
        await h.sendMessage(bob, to: "alice@localhost/a", id: "m2")
        await h.send(bob, XElement("presence", namespace: NS.client, ["to": "alice@localhost"]))
        await h.send(bob, XElement("presence", namespace: NS.client, ["to": "alice@localhost", "type": "subscribe"]))
        await h.send(bob, XElement("iq", namespace: NS.client, ["to": "alice@localhost/a", "type": "get", "id": "q1"],
                                   children: [.element(XElement("ping", namespace: NS.ping))]))
        await h.send(bob, XElement("iq", namespace: NS.client, ["to": "alice@localhost", "type": "get", "id": "q2"],
                                   children: [.element(XElement("ping", namespace: NS.ping))]))
        await h.send(bob, XElement("iq", namespace: NS.client, ["to": "alice@localhost/a", "type": "result", "id": "q3"]))
        #expect(alice.delivered.isEmpty)
        // §3.3: presence silently; messages SHOULD and IQ get/set MUST get service-unavailable; results are dropped.
        #expect(bob.delivered.map(MessagingHarness.errorCondition) == ["service-unavailable", "service-unavailable", "service-unavailable", "service-unavailable"])
        #expect(bob.delivered.map { $0[attribute: "id"] } == ["m1", "m2", "q1", "q2"])
        #expect(!bob.delivered.contains { blockedCondition($0) }, "the blocked JID cannot tell it is blocked")

        // Others still get through.
        let carol = await h.login("carol@localhost/c")
        await h.sendMessage(carol, to: "alice@localhost")
        #expect(alice.messages.count == 1)
    }

    @Test func outboundStanzasToABlockedJIDAreNotAcceptable() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore()), CarbonsModule()])
        let alice = await h.login("alice@localhost/a")
        let other = await h.login("alice@localhost/other")
        let bob = await h.login("bob@localhost/b")
        await h.iq(other, "set", XElement("enable", namespace: "urn:xmpp:carbons:2"))
        await block(h, alice, "bob@localhost")
        alice.clear()
        other.clear()
        bob.clear()

        await h.sendMessage(alice, to: "bob@localhost/b", body: "can you hear me", id: "m1")
        await h.send(alice, XElement("presence", namespace: NS.client, ["to": "bob@localhost", "id": "p1"]))
        await h.send(alice, XElement("iq", namespace: NS.client, ["to": "bob@localhost/b", "type": "get", "id": "q1"],
                                     children: [.element(XElement("query", namespace: "jabber:iq:version"))]))
        await h.send(alice, XElement("iq", namespace: NS.client, ["to": "bob@localhost/b", "type": "result", "id": "q2"]))
        await h.sendMessage(alice, to: "bob@localhost/b", type: "error", id: "e1")
        #expect(bob.delivered.isEmpty)
        #expect(other.delivered.isEmpty, "a refused message is not carbon-copied")
        #expect(alice.delivered.map { $0[attribute: "id"] } == ["m1", "p1", "q1"])
        for reply in alice.delivered {
            #expect(MessagingHarness.errorCondition(reply) == "not-acceptable")
            #expect(reply.child("error")?[attribute: "type"] == "cancel")
            #expect(blockedCondition(reply))
            #expect(reply[attribute: "from"] == "bob@localhost/b" || reply[attribute: "from"] == "bob@localhost")
        }
        #expect(alice.delivered.first?.child("body")?.text == "can you hear me")
    }

    @Test func jidsMatchAsSection6Says() {
        let list = BlockedJIDs(["user@example.com/res", "bare@example.com", "example.org/res", "example.net"].map { try! JID($0) })
        let cases: [(String, Bool)] = [
            ("user@example.com/res", true), ("user@example.com/other", false), ("user@example.com", false),
            ("bare@example.com", true), ("bare@example.com/any", true),
            ("example.org/res", true), ("example.org", false), ("example.org/other", false), ("someone@example.org/res", false),
            ("example.net", true), ("a@example.net", true), ("a@example.net/r", true), ("example.net/r", true),
            ("sub.example.net", false), ("other@example.com", false),
        ]
        for (jid, blocked) in cases {
            #expect(list.blocks(try! JID(jid)) == blocked, "\(jid)")
        }
    }

    @Test func aBlockedResourceOrDomainIsMatched() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let alice = await h.login("alice@localhost/a")
        let phone = await h.login("bob@localhost/phone")
        let laptop = await h.login("bob@localhost/laptop")
        await block(h, alice, "bob@localhost/phone", "capulet.example")
        alice.clear()
        await h.sendMessage(phone, to: "alice@localhost", id: "from-phone")
        await h.sendMessage(laptop, to: "alice@localhost", id: "from-laptop")
        #expect(alice.messages.map { $0[attribute: "id"] } == ["from-laptop"])
        // Without a blocked domain this would be remote-server-not-found.
        await h.sendMessage(alice, to: "juliet@capulet.example/balcony", id: "remote")
        #expect(blockedCondition(alice.delivered.last))
    }

    @Test func unblockingRestoresDeliveryAndEmptyUnblockClearsAll() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/b")
        let carol = await h.login("carol@localhost/c")
        await block(h, alice, "bob@localhost", "carol@localhost", "x.example")
        await unblock(h, alice, "bob@localhost")
        #expect(await listed(h, alice) == ["carol@localhost", "x.example"])
        alice.clear()
        await h.sendMessage(bob, to: "alice@localhost", id: "b1")
        await h.sendMessage(carol, to: "alice@localhost", id: "c1")
        #expect(alice.messages.map { $0[attribute: "id"] } == ["b1"])

        await unblock(h, alice)
        #expect(await listed(h, alice) == [])
        alice.clear()
        await h.sendMessage(carol, to: "alice@localhost", id: "c2")
        #expect(alice.messages.map { $0[attribute: "id"] } == ["c2"])
    }

    @Test func pushesReachTheResourcesThatRetrievedTheList() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let a = await h.login("alice@localhost/a")
        let b = await h.login("alice@localhost/b")
        let c = await h.login("alice@localhost/c")
        _ = await listed(h, a)
        _ = await listed(h, b)
        a.clear()
        b.clear()
        c.clear()
        await block(h, a, "romeo@montague.example")
        await unblock(h, b, "romeo@montague.example")
        await unblock(h, b)

        for client in [a, b] {
            let pushes = client.delivered.filter { $0.name == "iq" && $0[attribute: "type"] == "set" }
            #expect(pushes.count == 3)
            #expect(pushes.allSatisfy { $0[attribute: "to"] == client.jid.description && $0[attribute: "id"] != nil })
            let payloads = pushes.compactMap { $0.elements.first }
            #expect(payloads.map(\.name) == ["block", "unblock", "unblock"])
            #expect(payloads.map { $0.elements.compactMap { $0[attribute: "jid"] } } == [["romeo@montague.example"], ["romeo@montague.example"], []])
        }
        #expect(c.delivered.filter { $0.name == "iq" }.isEmpty, "c never asked for the list (§3.3)")
    }

    @Test func blockingSendsUnavailablePresenceToTheBlockedContact() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let a = await h.login("alice@localhost/a")
        let b = await h.login("alice@localhost/b")
        _ = await h.login("alice@localhost/quiet", available: false)
        let phone = await h.login("bob@localhost/phone")
        let carol = await h.login("carol@localhost/c")
        let dave = await h.login("dave@localhost/d")  // no account, still a session to observe
        a.session.update { $0.directedPresence = [dave.jid] }
        await block(h, a, "bob@localhost", "carol@localhost/elsewhere", "localhost")

        // §3.3: unavailable presence from each available resource, to the blocked JIDs…
        let fromBob = phone.presences
        #expect(Set(fromBob.compactMap { $0[attribute: "from"] }) == ["alice@localhost/a", "alice@localhost/b"])
        #expect(fromBob.allSatisfy { $0[attribute: "type"] == "unavailable" })
        // …a blocked full JID gets it at that resource only…
        #expect(carol.presences.isEmpty)
        // …and directed-presence recipients covered by a blocked domain get it too.
        #expect(dave.presences.map { $0[attribute: "from"] } == ["alice@localhost/a"])
        _ = b
    }

    @Test func unblockingSendsCurrentPresenceOnlyWhereAllowed() async throws {
        let presence = FakePresenceModule()
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore()), presence])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/phone")
        let carol = await h.login("carol@localhost/c")
        let dave = await h.login("dave@localhost/d")
        presence.subscribers.withLock { $0 = [bob.jid.bare] }
        alice.session.update { $0.directedPresence = [dave.jid] }
        await block(h, alice, "bob@localhost", "carol@localhost", "dave@localhost")
        bob.clear()
        carol.clear()
        dave.clear()
        await unblock(h, alice)
        // Bob is a subscriber: the re-announced presence reaches him through the presence module.
        #expect(bob.presences.count == 1)
        #expect(bob.presences.first?[attribute: "type"] == nil)
        #expect(bob.presences.first?[attribute: "from"] == "alice@localhost/a")
        // Dave had directed presence from alice: he gets it directly.
        #expect(dave.presences.count == 1)
        // Carol is neither: she learns nothing.
        #expect(carol.presences.isEmpty)
    }

    @Test func theDeliveryFilterStopsStanzasHandedStraightToSessions() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let alice = await h.login("alice@localhost/a")
        await block(h, alice, "bob@localhost")
        alice.clear()
        h.kernel.deliver(XElement("presence", namespace: NS.client, ["from": "bob@localhost/phone", "to": "alice@localhost/a"]), to: alice.session)
        h.kernel.deliver(XElement("presence", namespace: NS.client, ["from": "carol@localhost/c", "to": "alice@localhost/a"]), to: alice.session)
        #expect(alice.presences.map { $0[attribute: "from"] } == ["carol@localhost/c"])
    }

    @Test func theOwnServerAndAccountAreNeverBlocked() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore()), PingModule()])
        let a = await h.login("alice@localhost/a")
        let b = await h.login("alice@localhost/b")
        let carol = await h.login("carol@localhost/c")
        await block(h, a, "localhost", "alice@localhost")
        a.clear()
        let ping = await h.iq(a, "get", to: "localhost", XElement("ping", namespace: NS.ping))
        #expect(ping?[attribute: "type"] == "result")
        await h.sendMessage(b, to: "alice@localhost/a", id: "self")
        await h.sendMessage(carol, to: "alice@localhost/a", id: "carol")
        #expect(a.messages.map { $0[attribute: "id"] } == ["self"], "the domain block covers other local users")
        // The user can still unblock.
        await unblock(h, a)
    }

    @Test func checksUseTheCacheWhileOnlineAndTheStoreOtherwise() async throws {
        let store = CountingBlocklistStore()
        let offline = InMemoryOfflineStore()
        let h = try await MessagingHarness([BlockingModule(store: store), OfflineModule(store: offline)])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/b")
        await block(h, alice, "bob@localhost")
        let readsAfterSetup = store.reads
        for _ in 0..<5 {
            await h.sendMessage(bob, to: "alice@localhost")
            await h.sendMessage(alice, to: "bob@localhost")
        }
        // Bob's own (empty) list is cached too, so the only reads were none at all.
        #expect(store.reads == readsAfterSetup, "no storage I/O per stanza while online")

        await h.kernel.unbind(alice.session)
        bob.clear()
        await h.sendMessage(bob, to: "alice@localhost", id: "while-offline")
        #expect(store.reads > readsAfterSetup, "the list of an offline user comes from the store")
        #expect(MessagingHarness.errorCondition(bob.delivered.first) == "service-unavailable")
        #expect(try await offline.count(for: Self.alice) == 0, "a blocked sender's message is not stored")

        // Back online: loaded at bind, still blocked.
        let again = await h.login("alice@localhost/a2")
        await h.sendMessage(bob, to: "alice@localhost/a2")
        #expect(again.messages.isEmpty)
    }

    @Test func whileListsAreKnownStanzasAreDecidedWithoutSuspending() async throws {
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore())])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/b")
        let carol = await h.login("carol@localhost/c")
        await block(h, alice, "bob@localhost")
        for client in [alice, bob, carol] { client.clear() }
        func routeImmediately(_ client: MessagingClient, to: String, id: String) -> RoutingRemainder? {
            var message = MessagingHarness.message(to: to, id: id)
            message[attribute: "from"] = client.jid.description
            return h.kernel.routeImmediately(Stanza(message)!, from: client.session)
        }
        // Alice's list is cached while she is online; Bob and Carol block nobody (the owners are known).
        #expect(routeImmediately(bob, to: "alice@localhost", id: "in") == nil)
        #expect(routeImmediately(alice, to: "bob@localhost/b", id: "out") == nil)
        #expect(routeImmediately(carol, to: "alice@localhost", id: "ok") == nil)
        #expect(MessagingHarness.errorCondition(bob.delivered.first) == "service-unavailable")
        #expect(bob.messages.allSatisfy { $0[attribute: "type"] == "error" })
        #expect(alice.delivered.map { $0[attribute: "id"] } == ["out", "ok"])
        #expect(blockedCondition(alice.delivered[0]))
        #expect(alice.delivered[1][attribute: "type"] == "chat")
    }

    @Test func anOfflineUserWhoBlocksNobodyNeedsNoRead() async throws {
        let store = CountingBlocklistStore()
        let offline = InMemoryOfflineStore()
        let h = try await MessagingHarness([BlockingModule(store: store), OfflineModule(store: offline)])
        let bob = await h.login("bob@localhost/b")
        await h.sendMessage(bob, to: "alice@localhost", id: "first")
        let reads = store.reads
        for n in 0..<5 { await h.sendMessage(bob, to: "alice@localhost", id: "m\(n)") }
        #expect(store.reads == reads, "alice has no list, which is known without reading it")
        #expect(try await offline.count(for: Self.alice) == 6)

        // Once she has blocked bob, her list is read while she is offline, and it refuses him.
        let alice = await h.login("alice@localhost/a", available: false)
        await block(h, alice, "bob@localhost")
        await h.kernel.unbind(alice.session)
        bob.clear()
        await h.sendMessage(bob, to: "alice@localhost", id: "blocked")
        #expect(store.reads > reads)
        #expect(MessagingHarness.errorCondition(bob.delivered.first) == "service-unavailable")
        #expect(try await offline.count(for: Self.alice) == 6, "the blocked message is not stored")
    }

    @Test func aLoginWithoutAListReadsNoListAndALaterBlockStillHolds() async throws {
        let store = CountingBlocklistStore()
        let h = try await MessagingHarness([BlockingModule(store: store)])
        let bob = await h.login("bob@localhost/b")
        let reads = store.reads
        let alice = await h.login("alice@localhost/a")
        await h.sendMessage(bob, to: "alice@localhost/a", id: "before")
        await h.sendMessage(alice, to: "bob@localhost/b", id: "reply")
        #expect(store.reads == reads, "nobody has a list, which is known without reading one at login or per stanza")
        #expect(alice.messages.map { $0[attribute: "id"] } == ["before"])
        #expect(bob.messages.map { $0[attribute: "id"] } == ["reply"])

        await block(h, alice, "bob@localhost")
        bob.clear()
        await h.sendMessage(bob, to: "alice@localhost/a", id: "after")
        #expect(alice.messages.map { $0[attribute: "id"] } == ["before"], "the block takes effect for the online user at once")
        #expect(MessagingHarness.errorCondition(bob.delivered.first) == "service-unavailable")
    }

    @Test func storedMessagesFromANewlyBlockedSenderAreNotDelivered() async throws {
        let offline = InMemoryOfflineStore()
        let h = try await MessagingHarness([BlockingModule(store: InMemoryBlocklistStore()), OfflineModule(store: offline)])
        let bob = await h.login("bob@localhost/b")
        let carol = await h.login("carol@localhost/c")
        await h.sendMessage(bob, to: "alice@localhost", id: "from-bob")
        await h.sendMessage(carol, to: "alice@localhost", id: "from-carol")
        let bot = await h.login("alice@localhost/bot", priority: -1)
        await block(h, bot, "bob@localhost")
        let phone = await h.login("alice@localhost/phone", available: false)
        await h.becomeAvailable(phone)
        #expect(phone.messages.map { $0[attribute: "id"] } == ["from-carol"])
        #expect(try await offline.count(for: Self.alice) == 0)
    }

    @Test func deletingTheAccountClearsItsList() async throws {
        let store = InMemoryBlocklistStore()
        let h = try await MessagingHarness([BlockingModule(store: store)])
        let alice = await h.login("alice@localhost/a")
        await block(h, alice, "bob@localhost")
        _ = try await h.kernel.deleteAccount(Self.alice)
        #expect(try await store.blockedJIDs(of: Self.alice).isEmpty)
    }
}

/// A blocklist store that counts reads of whole lists.
private final class CountingBlocklistStore: BlocklistStore {
    private let inner = InMemoryBlocklistStore()
    private let count = Mutex(0)
    var reads: Int { count.withLock { $0 } }

    func blockedJIDs(of user: JID) async throws -> [JID] {
        count.withLock { $0 += 1 }
        return try await inner.blockedJIDs(of: user)
    }
    func block(_ jids: [JID], for user: JID) async throws -> Int { try await inner.block(jids, for: user) }
    func unblock(_ jids: [JID], for user: JID) async throws -> Int { try await inner.unblock(jids, for: user) }
    func unblockAll(for user: JID) async throws -> Int { try await inner.unblockAll(for: user) }
    func usersWithBlockedJIDs() async throws -> [JID] { try await inner.usersWithBlockedJIDs() }
}

/// Stands in for the presence module: broadcasts a client's presence (no `to`) to fixed subscribers.
private final class FakePresenceModule: Module, Sendable {
    let name = "fake-presence"
    let subscribers = Mutex<[JID]>([])

    func register(in registrar: ModuleRegistrar) {
        let kernel = registrar.kernel
        registrar.onOutbound { outbound in
            guard outbound.stanza.kind == .presence, outbound.stanza.toString == nil else { return .pass }
            for subscriber in self.subscribers.withLock({ $0 }) {
                var copy = outbound.stanza.element
                copy[attribute: "to"] = subscriber.description
                await kernel.dispatch(Stanza(copy)!)
            }
            return .handled
        }
    }
}
