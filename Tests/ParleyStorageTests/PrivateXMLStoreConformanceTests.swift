import ParleyStorage
import Testing
import XMPPXML

/// The `PrivateXMLStore` contract, on every backend.
@Suite("PrivateXMLStore conformance")
struct PrivateXMLStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func missingIsNil(_ backend: StoreBackend) async throws {
        try await backend.withPrivateXMLStore { store throws in
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "example.com") == nil)
            try await store.store([], username: "alice", host: "example.com")
            try await store.deleteAll(username: "alice", host: "example.com")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func elementsAreKeyedByNameAndNamespace(_ backend: StoreBackend) async throws {
        try await backend.withPrivateXMLStore { store throws in
            let prefs = richStoredElement("exodus", namespace: "exodus:prefs")
            let sameNamespace = richStoredElement("other", namespace: "exodus:prefs", marker: "2")
            let sameName = richStoredElement("exodus", namespace: "urn:example:other", marker: "3")
            try await store.store([prefs, sameNamespace, sameName], username: "alice", host: "example.com")
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "example.com") == prefs)
            #expect(try await store.element(name: "other", namespace: "exodus:prefs", username: "alice", host: "example.com") == sameNamespace)
            #expect(try await store.element(name: "exodus", namespace: "urn:example:other", username: "alice", host: "example.com") == sameName)
            #expect(try await store.element(name: "exodus", namespace: "urn:example:none", username: "alice", host: "example.com") == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func storingReplacesAndKeepsTheRest(_ backend: StoreBackend) async throws {
        try await backend.withPrivateXMLStore { store throws in
            let bookmarks = XElement("storage", namespace: "storage:bookmarks")
            try await store.store([richStoredElement("exodus", namespace: "exodus:prefs", marker: "old"), bookmarks],
                                  username: "alice", host: "example.com")
            let newer = richStoredElement("exodus", namespace: "exodus:prefs", marker: "new")
            try await store.store([newer], username: "alice", host: "example.com")
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "example.com") == newer)
            #expect(try await store.element(name: "storage", namespace: "storage:bookmarks", username: "alice", host: "example.com") == bookmarks)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func theLaterOfTwoElementsWithOneKeyWins(_ backend: StoreBackend) async throws {
        try await backend.withPrivateXMLStore { store throws in
            let first = richStoredElement("exodus", namespace: "exodus:prefs", marker: "first")
            let second = richStoredElement("exodus", namespace: "exodus:prefs", marker: "second")
            try await store.store([first, second], username: "alice", host: "example.com")
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "example.com") == second)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func accountsAreSeparateAndDeletedWhole(_ backend: StoreBackend) async throws {
        try await backend.withPrivateXMLStore { store throws in
            let a = richStoredElement("exodus", namespace: "exodus:prefs", marker: "a")
            let b = richStoredElement("exodus", namespace: "exodus:prefs", marker: "b")
            let c = richStoredElement("exodus", namespace: "exodus:prefs", marker: "c")
            try await store.store([a, XElement("storage", namespace: "storage:bookmarks")], username: "alice", host: "example.com")
            try await store.store([b], username: "bob", host: "example.com")
            try await store.store([c], username: "alice", host: "example.org")
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "bob", host: "example.com") == b)

            try await store.deleteAll(username: "alice", host: "example.com")
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "example.com") == nil)
            #expect(try await store.element(name: "storage", namespace: "storage:bookmarks", username: "alice", host: "example.com") == nil)
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "bob", host: "example.com") == b)
            #expect(try await store.element(name: "exodus", namespace: "exodus:prefs", username: "alice", host: "example.org") == c)
        }
    }
}
