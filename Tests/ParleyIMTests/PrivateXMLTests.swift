import ParleyIM
import ParleyKernel
import ParleyStorage
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML

@Suite("Private XML storage (XEP-0049)")
struct PrivateXMLTests {
    private let ns = "jabber:iq:private"

    private func query(_ children: XElement...) -> XElement {
        XElement("query", namespace: ns, children: children.map { .element($0) })
    }

    private func prefs(_ nick: String) -> XElement {
        XElement("exodus", namespace: "exodus:prefs", children: [.element(textElement("defaultnick", namespace: "exodus:prefs", nick))])
    }

    @Test func storesAndRetrieves() async throws {
        let harness = try await ServiceHarness([PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        let alice = await harness.login("alice@localhost/a")
        let set = await harness.iq(alice, "set", to: nil, query(prefs("Hamlet")))
        #expect(set?[attribute: "type"] == "result")
        #expect(set?.elements.isEmpty == true)
        for to in [nil, "alice@localhost"] as [String?] {
            let get = await harness.iq(alice, "get", to: to, query(XElement("exodus", namespace: "exodus:prefs")))
            #expect(get?[attribute: "type"] == "result")
            #expect(get?.elements == [query(prefs("Hamlet"))])
        }
    }

    @Test func nothingStoredReturnsTheEmptyElement() async throws {
        let harness = try await ServiceHarness([PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        let alice = await harness.login("alice@localhost/a")
        let get = await harness.iq(alice, "get", to: nil, query(XElement("storage", namespace: "storage:bookmarks")))
        #expect(get?.elements == [query(XElement("storage", namespace: "storage:bookmarks"))])
    }

    @Test func setStoresEveryChildUnderItsOwnKey() async throws {
        let harness = try await ServiceHarness([PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        let alice = await harness.login("alice@localhost/a")
        let bookmarks = XElement("storage", namespace: "storage:bookmarks", children: [.element(XElement("conference", namespace: "storage:bookmarks", ["jid": "room@muc.localhost"]))])
        let other = XElement("other", namespace: "exodus:prefs", ["x": "1"])
        #expect(await harness.iq(alice, "set", to: nil, query(prefs("Hamlet"), bookmarks, other))?[attribute: "type"] == "result")
        #expect(await harness.iq(alice, "get", to: nil, query(XElement("storage", namespace: "storage:bookmarks")))?.elements == [query(bookmarks)])
        #expect(await harness.iq(alice, "get", to: nil, query(XElement("other", namespace: "exodus:prefs")))?.elements == [query(other)])
        #expect(await harness.iq(alice, "get", to: nil, query(XElement("exodus", namespace: "exodus:prefs")))?.elements == [query(prefs("Hamlet"))])
        // A later set replaces one key and leaves the others.
        await harness.iq(alice, "set", to: nil, query(prefs("Macbeth")))
        #expect(await harness.iq(alice, "get", to: nil, query(XElement("exodus", namespace: "exodus:prefs")))?.elements == [query(prefs("Macbeth"))])
        #expect(await harness.iq(alice, "get", to: nil, query(XElement("storage", namespace: "storage:bookmarks")))?.elements == [query(bookmarks)])
    }

    @Test func anotherUsersDataIsForbidden() async throws {
        let store = InMemoryPrivateXMLStore()
        let harness = try await ServiceHarness([PrivateXMLModule(store: store)])
        let bob = await harness.login("bob@localhost/b")
        for type in ["get", "set"] {
            let reply = await harness.iq(bob, type, to: "alice@localhost", query(prefs("Macbeth")))
            #expect(stanzaErrorCondition(reply) == "forbidden")
        }
        #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "localhost") == nil)
    }

    @Test(arguments: ["get", "set"])
    func anEmptyQueryIsNotAcceptable(_ type: String) async throws {
        // §2.3: at least one child MUST be included, else not-acceptable.
        let harness = try await ServiceHarness([PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, type, to: nil, query())
        #expect(stanzaErrorCondition(reply) == "not-acceptable")
        #expect(stanzaErrorType(reply) == "modify")
    }

    @Test(arguments: ["jabber:iq:private", "jabber:client", "jabber:server", ""])
    func aChildWithoutANamespaceOfItsOwnIsNotAcceptable(_ namespace: String) async throws {
        let store = InMemoryPrivateXMLStore()
        let harness = try await ServiceHarness([PrivateXMLModule(store: store)])
        let alice = await harness.login("alice@localhost/a")
        for type in ["get", "set"] {
            let reply = await harness.iq(alice, type, to: nil, query(prefs("ok"), XElement("data", namespace: namespace)))
            #expect(stanzaErrorCondition(reply) == "not-acceptable")
        }
        // Nothing of a refused set is stored.
        #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "localhost") == nil)
    }

    @Test func aGetForTwoNamespacesIsABadRequest() async throws {
        // §2.3: a client MUST NOT query more than one namespace in a single get.
        let harness = try await ServiceHarness([PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: nil, query(XElement("a", namespace: "urn:a"), XElement("b", namespace: "urn:b")))
        #expect(stanzaErrorCondition(reply) == "bad-request")
    }

    @Test func aGetMayAskForSeveralElementsOfOneNamespace() async throws {
        let harness = try await ServiceHarness([PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        let alice = await harness.login("alice@localhost/a")
        await harness.iq(alice, "set", to: nil, query(prefs("Hamlet")))
        let reply = await harness.iq(alice, "get", to: nil, query(XElement("exodus", namespace: "exodus:prefs"), XElement("other", namespace: "exodus:prefs")))
        #expect(reply?.elements == [query(prefs("Hamlet"), XElement("other", namespace: "exodus:prefs"))])
    }

    @Test func deletingTheAccountDeletesItsData() async throws {
        let store = InMemoryPrivateXMLStore()
        let harness = try await ServiceHarness([PrivateXMLModule(store: store)])
        let alice = await harness.login("alice@localhost/a")
        await harness.iq(alice, "set", to: nil, query(prefs("Hamlet")))
        try await store.store([prefs("Bob")], username: "bob", host: "localhost")
        _ = try await harness.kernel.deleteAccount(try JID("alice@localhost"))
        #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "localhost") == nil)
        #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "bob", host: "localhost") == prefs("Bob"))
    }

    @Test func advertised() async throws {
        let harness = try await ServiceHarness([PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        #expect(harness.kernel.serverFeatures.contains(ns))
        #expect(harness.kernel.accountFeatures.contains(ns))
    }
}
