import ParleyKernel
import Synchronization
import ParleyStorage
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

@Suite("Offline messages (XEP-0160)")
struct OfflineTests {
    static let bob = try! JID("bob@localhost")
    static let clock: @Sendable () -> Int64 = { 1_700_000_000_123 }

    private func harness(_ store: InMemoryOfflineStore, limit: Int = 1000, extra: [any Module] = []) async throws -> MessagingHarness {
        try await MessagingHarness(extra + [OfflineModule(store: store, maxMessagesPerUser: limit, now: Self.clock)])
    }

    @Test func storedWithADelayThenDeliveredInOrderAtAvailabilityAndRemoved() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        for index in 1...3 { await h.sendMessage(alice, to: "bob@localhost", body: "m\(index)", id: "id\(index)") }
        #expect(alice.delivered.isEmpty, "stored messages are not bounced")
        let stored = try await store.messages(for: Self.bob, limit: nil)
        #expect(stored.count == 3)
        let delay = try #require(stored.first?.stanza.child("delay", namespace: "urn:xmpp:delay"))
        #expect(delay[attribute: "from"] == "localhost")
        #expect(delay[attribute: "stamp"] == "2023-11-14T22:13:20.123Z")
        #expect(stored.first?.storedAt == 1_700_000_000_123)

        let bob = await h.login("bob@localhost/phone", available: false)
        #expect(bob.delivered.isEmpty, "nothing before available presence")
        await h.becomeAvailable(bob, priority: 0)
        #expect(MessagingHarness.bodies(bob.messages) == ["m1", "m2", "m3"])
        #expect(bob.messages.map { $0[attribute: "id"] } == ["id1", "id2", "id3"])
        #expect(bob.messages.allSatisfy { $0.child("delay", namespace: "urn:xmpp:delay")?[attribute: "stamp"] == "2023-11-14T22:13:20.123Z" })
        #expect(bob.messages.first?[attribute: "from"] == "alice@localhost/a")
        #expect(try await store.count(for: Self.bob) == 0)

        // Delivered once: another session becoming available gets nothing.
        let tablet = await h.login("bob@localhost/tablet", available: false)
        await h.becomeAvailable(tablet, priority: 5)
        #expect(tablet.messages.isEmpty)
    }

    @Test func manyMessagesAreDeliveredInOrderAcrossBatches() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        for index in 0..<250 { await h.sendMessage(alice, to: "bob@localhost", body: "\(index)") }
        let bob = await h.login("bob@localhost/phone", available: false)
        await h.becomeAvailable(bob)
        #expect(MessagingHarness.bodies(bob.messages) == (0..<250).map(String.init))
        #expect(try await store.count(for: Self.bob) == 0)
    }

    @Test func aNegativePrioritySessionDoesNotTriggerDelivery() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        await h.sendMessage(alice, to: "bob@localhost", body: "first")
        let bob = await h.login("bob@localhost/bot", available: false)
        await h.becomeAvailable(bob, priority: -1)
        #expect(bob.messages.isEmpty, "XEP-0160 §2: delivery waits for non-negative presence")
        // RFC 6121 §8.5.2.2: with only a negative-priority resource the message is offline too.
        await h.sendMessage(alice, to: "bob@localhost", body: "later")
        #expect(bob.messages.isEmpty)
        #expect(alice.delivered.isEmpty)
        #expect(try await store.count(for: Self.bob) == 2)

        let phone = await h.login("bob@localhost/phone", available: false)
        await h.becomeAvailable(phone, priority: 1)
        #expect(MessagingHarness.bodies(phone.messages) == ["first", "later"])
        #expect(bob.messages.isEmpty)
    }

    @Test func aFullQueueRefusesTheMessageWithServiceUnavailable() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store, limit: 2)
        let alice = await h.login("alice@localhost/a")
        await h.sendMessage(alice, to: "bob@localhost", body: "1", id: "a")
        await h.sendMessage(alice, to: "bob@localhost", body: "2", id: "b")
        #expect(alice.delivered.isEmpty)
        await h.sendMessage(alice, to: "bob@localhost", body: "3", id: "c")
        let error = try #require(alice.delivered.first)
        #expect(MessagingHarness.errorCondition(error) == "service-unavailable")
        #expect(error[attribute: "id"] == "c")
        #expect(error[attribute: "from"] == "bob@localhost")
        #expect(try await store.count(for: Self.bob) == 2)
    }

    @Test func onlyNormalAndChatMessagesAreStored() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        await h.sendMessage(alice, to: "bob@localhost", type: "headline", body: "news")
        await h.sendMessage(alice, to: "bob@localhost", type: "error", body: "oops")
        #expect(try await store.count(for: Self.bob) == 0)
        #expect(alice.delivered.isEmpty, "headlines are dropped silently (RFC 6121 §8.5.2.2.1)")
        await h.sendMessage(alice, to: "bob@localhost", type: "groupchat", body: "room")
        #expect(MessagingHarness.errorCondition(alice.delivered.last) == "service-unavailable")
        await h.sendMessage(alice, to: "bob@localhost", type: nil, body: "normal")
        await h.sendMessage(alice, to: "bob@localhost", type: "normal", body: "normal too")
        await h.sendMessage(alice, to: "bob@localhost", type: "chat", body: "chat")
        #expect(try await store.messages(for: Self.bob, limit: nil).compactMap { $0.stanza.child("body")?.text } == ["normal", "normal too", "chat"])
    }

    @Test func chatStatesAloneAndNoStoreHintsAreNotStored() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        let composing = XElement("composing", namespace: "http://jabber.org/protocol/chatstates")
        let thread = XElement("thread", namespace: NS.client, children: [.text("t1")])
        let noStore = XElement("no-store", namespace: "urn:xmpp:hints")
        let storeHint = XElement("store", namespace: "urn:xmpp:hints")
        let receipt = XElement("received", namespace: "urn:xmpp:receipts", ["id": "x"])

        await h.sendMessage(alice, to: "bob@localhost", body: nil, id: "state", extra: [composing, thread])
        await h.sendMessage(alice, to: "bob@localhost", body: nil, id: "empty")
        await h.sendMessage(alice, to: "bob@localhost", body: "secret", id: "nostore", extra: [noStore])
        #expect(try await store.count(for: Self.bob) == 0)
        // A refused message is bounced like any undeliverable one.
        #expect(alice.delivered.map(MessagingHarness.errorCondition) == ["service-unavailable", "service-unavailable", "service-unavailable"])

        alice.clear()
        await h.sendMessage(alice, to: "bob@localhost", body: "with state", id: "body", extra: [composing])
        await h.sendMessage(alice, to: "bob@localhost", body: nil, id: "receipt", extra: [receipt])
        await h.sendMessage(alice, to: "bob@localhost", body: nil, id: "hinted", extra: [composing, storeHint])
        // <no-store/> wins over <store/>.
        await h.sendMessage(alice, to: "bob@localhost", body: "both", id: "both", extra: [storeHint, noStore])
        #expect(try await store.messages(for: Self.bob, limit: nil).map { $0.stanza[attribute: "id"] } == ["body", "receipt", "hinted"])
    }

    @Test func messagesToAnOfflineResourceAreStored() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        await h.sendMessage(alice, to: "bob@localhost/gone", body: "to a resource")
        #expect(try await store.count(for: Self.bob) == 1)
        await h.sendMessage(alice, to: "nobody@localhost", body: "no account")
        #expect(MessagingHarness.errorCondition(alice.delivered.last) == "service-unavailable")
        #expect(try await store.count(for: try JID("nobody@localhost")) == 0)
    }

    @Test func aMessageStoredAsASessionBecomesAvailableIsDeliveredToIt() async throws {
        let store = InMemoryOfflineStore()
        // Simulates the race: the session turns available after the kernel found no session for
        // the message, and before the message is stored (the session's own delivery found nothing).
        let racer = RaceModule()
        let h = try await harness(store, extra: [racer])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/phone", available: false)
        racer.session.withLock { $0 = bob.session }
        await h.sendMessage(alice, to: "bob@localhost", body: "raced")
        #expect(MessagingHarness.bodies(bob.messages) == ["raced"])
        #expect(try await store.count(for: Self.bob) == 0)
        #expect(alice.delivered.isEmpty)
    }

    @Test func storedMessagesKeepTheirStanzaID() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store, extra: [StanzaIDModule(makeID: { "sid-1" })])
        let alice = await h.login("alice@localhost/a")
        await h.sendMessage(alice, to: "bob@localhost", body: "with id")
        let bob = await h.login("bob@localhost/phone", available: false)
        await h.becomeAvailable(bob)
        let stanzaID = try #require(bob.messages.first?.child("stanza-id", namespace: "urn:xmpp:sid:0"))
        #expect(stanzaID[attribute: "id"] == "sid-1")
        #expect(stanzaID[attribute: "by"] == "bob@localhost")
    }

    @Test func deletingTheAccountDeletesItsMessages() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        await h.sendMessage(alice, to: "bob@localhost", body: "1")
        await h.sendMessage(alice, to: "carol@localhost", body: "2")
        _ = try await h.kernel.deleteAccount(Self.bob)
        #expect(try await store.count(for: Self.bob) == 0)
        #expect(try await store.count(for: try JID("carol@localhost")) == 1)
    }

    @Test func theServerAdvertisesMsgoffline() async throws {
        let h = try await harness(InMemoryOfflineStore())
        #expect(h.kernel.serverFeatures.contains("msgoffline"))
    }

    @Test func administrationCountsAndDeletes() async throws {
        let store = InMemoryOfflineStore()
        let h = try await harness(store)
        let alice = await h.login("alice@localhost/a")
        for _ in 0..<3 { await h.sendMessage(alice, to: "bob@localhost") }
        let admin = OfflineMessageAdministration(store: store)
        #expect(try await admin.count(for: try JID("bob@localhost/any")) == 3)
        #expect(try await admin.deleteAll(for: Self.bob) == 3)
        #expect(try await admin.count(for: Self.bob) == 0)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(951_782_400_123), "2000-02-29T00:00:00.123Z"),
        (Int64(1_709_251_199_999), "2024-02-29T23:59:59.999Z"),
        (Int64(4_102_444_800_000), "2100-01-01T00:00:00.000Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
    ])
    func timestampsAreXEP0082(_ milliseconds: Int64, _ expected: String) {
        #expect(OfflineTimestamp.format(milliseconds: milliseconds) == expected)
    }

    @Test func theWallClockIsRecent() {
        // After 2024-01-01 and before 2200: a sanity check of the real-time clock reading.
        let now = OfflineTimestamp.currentMilliseconds()
        #expect(now > 1_704_067_200_000 && now < 7_258_118_400_000)
    }
}

/// Makes a session available from inside the undeliverable-message hooks, before offline storage runs.
private final class RaceModule: Module, Sendable {
    let name = "race"
    let session = Mutex<LocalSession?>(nil)

    func register(in registrar: ModuleRegistrar) {
        registrar.onUndeliverableMessage(priority: 100) { _ in
            if let session = self.session.withLock({ $0 }) { MessagingHarness.setAvailable(session, priority: 0) }
            return false
        }
    }
}
