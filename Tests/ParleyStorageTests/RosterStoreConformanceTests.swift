import ParleySQLite
import ParleyStorage
import Testing
import XMPPAddress

@Suite("RosterStore conformance")
struct RosterStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func emptyRoster(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.emptyRoster)
    }

    @Test(arguments: StoreBackend.allCases)
    func itemLifecycleBumpsTheVersion(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.itemLifecycleBumpsTheVersion)
    }

    @Test(arguments: StoreBackend.allCases)
    func everyFieldRoundTrips(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.everyFieldRoundTrips)
    }

    @Test(arguments: StoreBackend.allCases)
    func pendingRequestsAreNotItems(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.pendingRequestsAreNotItems)
    }

    @Test(arguments: StoreBackend.allCases)
    func usersAreSeparateAndKeyedByBareJID(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.usersAreSeparateAndKeyedByBareJID)
    }

    @Test(arguments: StoreBackend.allCases)
    func aThrowingBodyChangesNothing(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.aThrowingBodyChangesNothing)
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentUpdatesAreAtomic(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.concurrentUpdatesAreAtomic)
    }

    @Test(arguments: StoreBackend.allCases)
    func deletingARosterKeepsTheVersionGrowing(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.deletingARosterKeepsTheVersionGrowing)
    }

    @Test(arguments: StoreBackend.allCases)
    func makeMutualContacts(_ backend: StoreBackend) async throws {
        try await backend.withRosterStore(RosterStoreConformance.makeMutualContacts)
    }

    @Test func sqliteRosterSurvivesReopening() async throws {
        try await withTemporaryDatabasePath { path in
            let alice = RosterStoreConformance.alice
            let bob = RosterStoreConformance.bob
            let request = RosterStoreConformance.subscribeStanza(from: bob, to: alice)
            let first = try SQLiteDatabase(path: path)
            try await SQLiteRosterStore(database: first).update(user: alice, contact: bob) { entry in
                entry.item = RosterItem(jid: bob, name: "Bob", subscription: .from, groups: ["x"])
                entry.pendingIn = request
            }
            try first.close()

            let second = try SQLiteDatabase(path: path)
            let store = SQLiteRosterStore(database: second)
            #expect(try await store.roster(of: alice) == Roster(version: 1, items: [
                RosterItem(jid: bob, name: "Bob", subscription: .from, groups: ["x"]),
            ]))
            #expect(try await store.pendingRequests(of: alice).map(\.pendingIn) == [request])
            try second.close()
        }
    }

    @Test func sqliteFailuresBecomeBackendErrors() async throws {
        let store = try sqliteStoreOnClosedDatabase(SQLiteRosterStore.init)
        await #expect {
            _ = try await store.roster(of: RosterStoreConformance.alice)
        } throws: { error in
            guard case .backend(let message) = error as? RosterStoreError else { return false }
            return !message.isEmpty
        }
    }
}
