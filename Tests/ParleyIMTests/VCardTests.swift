import ParleyIM
import ParleyKernel
import ParleySQLite
import ParleyStorage
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML

@Suite("vcard-temp (XEP-0054)")
struct VCardTests {
    private let ns = "vcard-temp"

    private func vCard(_ fullName: String) -> XElement {
        var vCard = XElement("vCard", namespace: ns)
        vCard.append(textElement("FN", namespace: ns, fullName))
        var n = XElement("N", namespace: ns)
        n.append(textElement("FAMILY", namespace: ns, "Saint-Andre"))
        n.append(XElement("MIDDLE", namespace: ns))
        vCard.append(n)
        return vCard
    }

    @Test func ownMissingVCardIsEmpty() async throws {
        let harness = try await ServiceHarness([VCardModule(store: InMemoryVCardStore())])
        let alice = await harness.login("alice@localhost/a")
        for to in [nil, "alice@localhost"] as [String?] {
            let reply = await harness.iq(alice, "get", to: to, XElement("vCard", namespace: ns))
            // §3.1: an empty vCard (the alternative to an error the XEP allows).
            #expect(reply?[attribute: "type"] == "result")
            #expect(reply?.elements == [XElement("vCard", namespace: ns)])
        }
    }

    @Test func setThenEveryoneReadsIt() async throws {
        let harness = try await ServiceHarness([VCardModule(store: InMemoryVCardStore())])
        let alice = await harness.login("alice@localhost/a")
        let bob = await harness.login("bob@localhost/b")
        let card = vCard("Alice")
        let set = await harness.iq(alice, "set", to: nil, card)
        #expect(set?[attribute: "type"] == "result")
        #expect(set?.elements.isEmpty == true)

        #expect(await harness.iq(alice, "get", to: nil, XElement("vCard", namespace: ns))?.elements == [card])
        // §3.3: another user asks the bare JID; the server answers on its behalf.
        let other = await harness.iq(bob, "get", to: "alice@localhost", XElement("vCard", namespace: ns))
        #expect(other?.elements == [card])
        #expect(other?[attribute: "from"] == "alice@localhost")
        #expect(alice.delivered.allSatisfy { $0[attribute: "type"] == "result" }, "the IQ must not reach alice's resource")
    }

    @Test func setToOwnBareJIDIsAllowedAndReplaces() async throws {
        let harness = try await ServiceHarness([VCardModule(store: InMemoryVCardStore())])
        let alice = await harness.login("alice@localhost/a")
        await harness.iq(alice, "set", to: nil, vCard("First"))
        #expect(await harness.iq(alice, "set", to: "alice@localhost", vCard("Second"))?[attribute: "type"] == "result")
        #expect(await harness.iq(alice, "get", to: nil, XElement("vCard", namespace: ns))?.elements == [vCard("Second")])
    }

    @Test func missingAndNonexistentLookTheSame() async throws {
        // §3.3: MUST be the same error, service-unavailable (RFC 6121 §8.5.1).
        let harness = try await ServiceHarness([VCardModule(store: InMemoryVCardStore())])
        let bob = await harness.login("bob@localhost/b")
        let missing = await harness.iq(bob, "get", to: "alice@localhost", XElement("vCard", namespace: ns))
        let nonexistent = await harness.iq(bob, "get", to: "nobody@localhost", XElement("vCard", namespace: ns))
        #expect(stanzaErrorCondition(missing) == "service-unavailable")
        #expect(stanzaErrorCondition(nonexistent) == "service-unavailable")
        #expect(stanzaErrorType(missing) == stanzaErrorType(nonexistent))
    }

    @Test func nobodyElseSetsAVCard() async throws {
        let store = InMemoryVCardStore()
        let harness = try await ServiceHarness([VCardModule(store: store)])
        let bob = await harness.login("bob@localhost/b")
        let reply = await harness.iq(bob, "set", to: "alice@localhost", vCard("Mallory"))
        // §3.2: forbidden.
        #expect(stanzaErrorCondition(reply) == "forbidden")
        #expect(stanzaErrorType(reply) == "auth")
        #expect(try await store.vCard(username: "alice", host: "localhost") == nil)
    }

    @Test func oversizedVCardsAreRefused() async throws {
        let store = InMemoryVCardStore()
        let harness = try await ServiceHarness([VCardModule(store: store, maxBytes: 200)])
        let alice = await harness.login("alice@localhost/a")
        let big = vCard(String(repeating: "x", count: 300))
        let reply = await harness.iq(alice, "set", to: nil, big)
        #expect(stanzaErrorCondition(reply) == "policy-violation")
        #expect(try await store.vCard(username: "alice", host: "localhost") == nil)
        #expect(await harness.iq(alice, "set", to: nil, vCard("small"))?[attribute: "type"] == "result")
    }

    @Test func advertisedOnTheServer() async throws {
        let harness = try await ServiceHarness([VCardModule(store: InMemoryVCardStore())])
        #expect(harness.kernel.serverFeatures.contains(ns))
    }

    @Test func serverVCardWhenConfigured() async throws {
        let card = vCard("Parley server")
        let configured = try await ServiceHarness([VCardModule(store: InMemoryVCardStore(), serverVCard: card)])
        let alice = await configured.login("alice@localhost/a")
        #expect(await configured.iq(alice, "get", to: "localhost", XElement("vCard", namespace: ns))?.elements == [card])
        #expect(stanzaErrorCondition(await configured.iq(alice, "set", to: "localhost", vCard("x"))) == "forbidden")

        let plain = try await ServiceHarness([VCardModule(store: InMemoryVCardStore())])
        let bob = await plain.login("bob@localhost/b")
        #expect(stanzaErrorCondition(await plain.iq(bob, "get", to: "localhost", XElement("vCard", namespace: ns))) == "service-unavailable")
    }

    @Test func deletingTheAccountDeletesTheVCard() async throws {
        let store = InMemoryVCardStore()
        let harness = try await ServiceHarness([VCardModule(store: store)])
        let alice = await harness.login("alice@localhost/a")
        await harness.iq(alice, "set", to: nil, vCard("Alice"))
        try await store.setVCard(vCard("Bob"), username: "bob", host: "localhost")
        _ = try await harness.kernel.deleteAccount(try JID("alice@localhost"))
        #expect(try await store.vCard(username: "alice", host: "localhost") == nil)
        #expect(try await store.vCard(username: "bob", host: "localhost") != nil)
    }

    @Test func storeFailuresAreInternalServerErrors() async throws {
        let harness = try await ServiceHarness([VCardModule(store: FailingVCardStore())])
        let alice = await harness.login("alice@localhost/a")
        #expect(stanzaErrorCondition(await harness.iq(alice, "get", to: nil, XElement("vCard", namespace: ns))) == "internal-server-error")
        #expect(stanzaErrorCondition(await harness.iq(alice, "set", to: nil, vCard("A"))) == "internal-server-error")
    }

    @Test func roundTripsThroughSQLite() async throws {
        let registered = Set(SQLiteDatabase.migrations.map(\.identifier))
        let database = try SQLiteDatabase.inMemory(
            migrations: SQLiteDatabase.migrations + SQLiteVCardStore.migrations.filter { !registered.contains($0.identifier) })
        let harness = try await ServiceHarness([VCardModule(store: SQLiteVCardStore(database: database))])
        let alice = await harness.login("alice@localhost/a")
        var card = vCard("Zoë <&> 'quoted'")
        card[attribute: "version"] = "3.0"
        card.append(XElement("x", namespace: "vcard-temp:x:update", children: [.element(textElement("photo", namespace: "vcard-temp:x:update", "abc"))]))
        await harness.iq(alice, "set", to: nil, card)
        #expect(await harness.iq(alice, "get", to: nil, XElement("vCard", namespace: ns))?.elements == [card])
    }
}

/// A store whose every call fails, as a broken database would.
final class FailingVCardStore: VCardStore {
    func vCard(username: String, host: String) async throws -> XElement? { throw VCardStoreError.backend("down") }
    func setVCard(_ vCard: XElement, username: String, host: String) async throws { throw VCardStoreError.backend("down") }
    func deleteVCard(username: String, host: String) async throws -> Bool { throw VCardStoreError.backend("down") }
}
