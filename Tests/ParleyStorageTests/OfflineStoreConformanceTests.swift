import ParleySQLite
import ParleyStorage
import Testing
import XMPPAddress
import XMPPXML

/// A message with text, attributes needing escapes, a nested foreign-namespace payload and xml:lang.
private func offlineTestMessage(_ body: String, id: String = "m") -> XElement {
    var element = XElement("message", namespace: "jabber:client",
                           ["from": "romeo@montague.example/orchard", "to": "alice@example.com", "type": "chat", "id": id])
    element.attributes.append(XAttribute(name: "lang", namespace: XMLNamespace.xml, value: "en"))
    element.append(XElement("body", namespace: "jabber:client", children: [.text(body)]))
    element.append(XElement("x", namespace: "urn:example:payload", ["a": "1 < 2 & 'q' \"d\""],
                            children: [.element(XElement("y", namespace: "urn:example:payload", children: [.text("  spaced  ")]))]))
    element.append(XElement("delay", namespace: "urn:xmpp:delay", ["from": "example.com", "stamp": "2024-01-01T00:00:00.000Z"],
                            children: [.text("Offline Storage")]))
    return element
}

@Suite("OfflineStore conformance")
struct OfflineStoreConformanceTests {
    static let alice = try! JID("alice@example.com")
    static let bob = try! JID("bob@example.com")
    static let aliceElsewhere = try! JID("alice@example.org")

    @Test(arguments: StoreBackend.allCases)
    func appendedMessagesComeBackInOrderAndIntact(_ backend: StoreBackend) async throws {
        try await backend.withOfflineStore { store async throws in
            #expect(try await store.messages(for: Self.alice, limit: nil).isEmpty)
            var stored: [OfflineMessage] = []
            for index in 0..<5 {
                let appended = try #require(try await store.append(offlineTestMessage("hello \(index) ü ✓", id: "m\(index)"), for: Self.alice, storedAt: 1000 + Int64(index), limit: 100))
                stored.append(appended)
            }
            _ = try await store.append(offlineTestMessage("for Self.bob"), for: Self.bob, storedAt: 7, limit: 100)
            #expect(stored.map(\.id) == stored.map(\.id).sorted())
            #expect(Set(stored.map(\.id)).count == 5)

            let loaded = try await store.messages(for: Self.alice, limit: nil)
            #expect(loaded == stored)
            #expect(loaded.map { $0.stanza[attribute: "id"] } == ["m0", "m1", "m2", "m3", "m4"])
            #expect(loaded[2].stanza == offlineTestMessage("hello 2 ü ✓", id: "m2"))
            #expect(loaded[2].storedAt == 1002)
            #expect(try await store.messages(for: Self.alice, limit: 2) == Array(stored.prefix(2)))
            #expect(try await store.messages(for: Self.alice, limit: 0).isEmpty)
            #expect(try await store.count(for: Self.alice) == 5)
            #expect(try await store.count(for: Self.bob) == 1)
            #expect(try await store.count(for: Self.aliceElsewhere) == 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func fullJIDsAreReducedToTheBareJID(_ backend: StoreBackend) async throws {
        try await backend.withOfflineStore { store async throws in
            _ = try await store.append(offlineTestMessage("x"), for: try JID("alice@example.com/phone"), storedAt: 1, limit: 10)
            #expect(try await store.count(for: Self.alice) == 1)
            #expect(try await store.messages(for: try JID("alice@example.com/laptop"), limit: nil).count == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func appendStopsAtTheLimit(_ backend: StoreBackend) async throws {
        try await backend.withOfflineStore { store async throws in
            for index in 0..<3 {
                #expect(try await store.append(offlineTestMessage("\(index)"), for: Self.alice, storedAt: 0, limit: 3) != nil)
            }
            #expect(try await store.append(offlineTestMessage("over"), for: Self.alice, storedAt: 0, limit: 3) == nil)
            #expect(try await store.count(for: Self.alice) == 3)
            // The limit is per user.
            #expect(try await store.append(offlineTestMessage("Self.bob"), for: Self.bob, storedAt: 0, limit: 3) != nil)
            // A limit of zero stores nothing.
            #expect(try await store.append(offlineTestMessage("none"), for: Self.aliceElsewhere, storedAt: 0, limit: 0) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentAppendsNeverExceedTheLimit(_ backend: StoreBackend) async throws {
        try await backend.withOfflineStore { store async throws in
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    group.addTask { try await store.append(offlineTestMessage("\(index)"), for: Self.alice, storedAt: 0, limit: 25) != nil }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 25)
            #expect(try await store.count(for: Self.alice) == 25)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func removeTakesOnlyTheGivenIDsOfThatUser(_ backend: StoreBackend) async throws {
        try await backend.withOfflineStore { store async throws in
            var ids: [Int64] = []
            for index in 0..<4 {
                ids.append(try #require(try await store.append(offlineTestMessage("\(index)"), for: Self.alice, storedAt: 0, limit: 10)).id)
            }
            let bobs = try #require(try await store.append(offlineTestMessage("b"), for: Self.bob, storedAt: 0, limit: 10))
            // Another user's id is ignored; unknown ids too.
            #expect(try await store.remove(ids: [ids[0], ids[2], bobs.id, 999_999], for: Self.alice) == 2)
            #expect(try await store.messages(for: Self.alice, limit: nil).map(\.id) == [ids[1], ids[3]])
            #expect(try await store.count(for: Self.bob) == 1)
            #expect(try await store.remove(ids: [], for: Self.alice) == 0)
            // Messages stored after a read survive the removal of what was read.
            let read = try await store.messages(for: Self.alice, limit: nil)
            let late = try #require(try await store.append(offlineTestMessage("late"), for: Self.alice, storedAt: 0, limit: 10))
            #expect(try await store.remove(ids: read.map(\.id), for: Self.alice) == 2)
            #expect(try await store.messages(for: Self.alice, limit: nil) == [late])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func idsAreNeverReused(_ backend: StoreBackend) async throws {
        try await backend.withOfflineStore { store async throws in
            let first = try #require(try await store.append(offlineTestMessage("1"), for: Self.alice, storedAt: 0, limit: 10))
            try await store.removeAll(for: Self.alice)
            let second = try #require(try await store.append(offlineTestMessage("2"), for: Self.alice, storedAt: 0, limit: 10))
            #expect(second.id > first.id)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func removeAllIsPerUser(_ backend: StoreBackend) async throws {
        try await backend.withOfflineStore { store async throws in
            for index in 0..<3 { _ = try await store.append(offlineTestMessage("\(index)"), for: Self.alice, storedAt: 0, limit: 10) }
            _ = try await store.append(offlineTestMessage("b"), for: Self.bob, storedAt: 0, limit: 10)
            _ = try await store.append(offlineTestMessage("c"), for: Self.aliceElsewhere, storedAt: 0, limit: 10)
            #expect(try await store.removeAll(for: Self.alice) == 3)
            #expect(try await store.removeAll(for: Self.alice) == 0)
            #expect(try await store.count(for: Self.alice) == 0)
            #expect(try await store.count(for: Self.bob) == 1)
            #expect(try await store.count(for: Self.aliceElsewhere) == 1)
        }
    }

    @Test func sqliteFailuresBecomeBackendErrors() async throws {
        let store = try sqliteStoreOnClosedDatabase(SQLiteOfflineStore.init)
        await #expect {
            _ = try await store.count(for: Self.alice)
        } throws: { error in
            guard case .backend(let text) = error as? OfflineStoreError else { return false }
            return !text.isEmpty
        }
    }

    @Test func sqliteMessagesSurviveReopening() async throws {
        try await withTemporaryDatabasePath { path in
            let first = try SQLiteDatabase(path: path)
            let stored = try #require(try await SQLiteOfflineStore(database: first).append(offlineTestMessage("kept"), for: Self.alice, storedAt: 5, limit: 10))
            try first.close()
            let second = try SQLiteDatabase(path: path)
            #expect(try await SQLiteOfflineStore(database: second).messages(for: Self.alice, limit: nil) == [stored])
            try second.close()
        }
    }
}
