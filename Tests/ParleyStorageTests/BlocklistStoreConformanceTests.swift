import ParleySQLite
import ParleyStorage
import Testing
import XMPPAddress

@Suite("BlocklistStore conformance")
struct BlocklistStoreConformanceTests {
    static let alice = try! JID("alice@example.com")
    static let bob = try! JID("bob@example.com")
    static func jids(_ strings: String...) -> [JID] { strings.map { try! JID($0) } }

    @Test(arguments: StoreBackend.allCases)
    func blockKeepsEveryKindOfJIDSorted(_ backend: StoreBackend) async throws {
        try await backend.withBlocklistStore { store async throws in
            #expect(try await store.blockedJIDs(of: Self.alice).isEmpty)
            let blocked = Self.jids("romeo@montague.example", "iago@shakespeare.example/evil", "spam.example", "bots.example/x", "zoë@example.com")
            #expect(try await store.block(blocked, for: Self.alice) == 5)
            #expect(try await store.blockedJIDs(of: Self.alice) == blocked.sorted { $0.description < $1.description })
            #expect(try await store.blockedJIDs(of: Self.bob).isEmpty)
            // A full JID for the user means the same account.
            #expect(try await store.blockedJIDs(of: try JID("alice@example.com/phone")).count == 5)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func usersWithBlockedJIDsAreThoseWithANonEmptyList(_ backend: StoreBackend) async throws {
        try await backend.withBlocklistStore { store async throws in
            #expect(try await store.usersWithBlockedJIDs().isEmpty)
            let carol = try JID("carol@example.com")
            try await store.block(Self.jids("a@x.example"), for: Self.alice)
            try await store.block(Self.jids("a@x.example", "x.example"), for: Self.bob)
            try await store.block(Self.jids("b@x.example"), for: carol)
            try await store.unblock(Self.jids("b@x.example"), for: carol)
            #expect(Set(try await store.usersWithBlockedJIDs()) == [Self.alice, Self.bob])
            try await store.unblockAll(for: Self.bob)
            #expect(try await store.usersWithBlockedJIDs() == [Self.alice])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func blockingTwiceAddsNothing(_ backend: StoreBackend) async throws {
        try await backend.withBlocklistStore { store async throws in
            #expect(try await store.block(Self.jids("a@x.example", "b@x.example"), for: Self.alice) == 2)
            #expect(try await store.block(Self.jids("b@x.example", "c@x.example", "c@x.example"), for: Self.alice) == 1)
            #expect(try await store.block([], for: Self.alice) == 0)
            #expect(try await store.blockedJIDs(of: Self.alice) == Self.jids("a@x.example", "b@x.example", "c@x.example"))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func unblockRemovesOnlyTheGivenJIDs(_ backend: StoreBackend) async throws {
        try await backend.withBlocklistStore { store async throws in
            try await store.block(Self.jids("a@x.example", "b@x.example", "x.example"), for: Self.alice)
            try await store.block(Self.jids("a@x.example"), for: Self.bob)
            // Exact matches only: unblocking a bare JID leaves the domain blocked, and vice versa.
            #expect(try await store.unblock(Self.jids("a@x.example", "a@x.example/r", "nobody@x.example"), for: Self.alice) == 1)
            #expect(try await store.blockedJIDs(of: Self.alice) == Self.jids("b@x.example", "x.example"))
            #expect(try await store.blockedJIDs(of: Self.bob) == Self.jids("a@x.example"))
            #expect(try await store.unblock([], for: Self.alice) == 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func unblockAllIsPerUser(_ backend: StoreBackend) async throws {
        try await backend.withBlocklistStore { store async throws in
            try await store.block(Self.jids("a@x.example", "b@x.example"), for: Self.alice)
            try await store.block(Self.jids("a@x.example"), for: Self.bob)
            try await store.block(Self.jids("a@x.example"), for: try JID("alice@example.org"))
            #expect(try await store.unblockAll(for: Self.alice) == 2)
            #expect(try await store.unblockAll(for: Self.alice) == 0)
            #expect(try await store.blockedJIDs(of: Self.alice).isEmpty)
            #expect(try await store.blockedJIDs(of: Self.bob).count == 1)
            #expect(try await store.blockedJIDs(of: try JID("alice@example.org")).count == 1)
        }
    }

    @Test func sqliteFailuresBecomeBackendErrors() async throws {
        let store = try sqliteStoreOnClosedDatabase(SQLiteBlocklistStore.init)
        await #expect {
            _ = try await store.blockedJIDs(of: Self.alice)
        } throws: { error in
            guard case .backend(let text) = error as? BlocklistStoreError else { return false }
            return !text.isEmpty
        }
    }
}
