import ParleySQLite
import ParleyStorage
import Testing
import XMPPAddress

@Suite("RosterStore conformance")
struct RosterStoreConformanceTests {
    @Test(arguments: RosterStoreBackend.allCases)
    func emptyRoster(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.emptyRoster)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func itemLifecycleBumpsTheVersion(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.itemLifecycleBumpsTheVersion)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func everyFieldRoundTrips(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.everyFieldRoundTrips)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func pendingRequestsAreNotItems(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.pendingRequestsAreNotItems)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func usersAreSeparateAndKeyedByBareJID(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.usersAreSeparateAndKeyedByBareJID)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func aThrowingBodyChangesNothing(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.aThrowingBodyChangesNothing)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func concurrentUpdatesAreAtomic(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.concurrentUpdatesAreAtomic)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func deletingARosterKeepsTheVersionGrowing(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.deletingARosterKeepsTheVersionGrowing)
    }

    @Test(arguments: RosterStoreBackend.allCases)
    func makeMutualContacts(_ backend: RosterStoreBackend) async throws {
        try await backend.withStore(RosterStoreConformance.makeMutualContacts)
    }

    @Test func sqliteRosterSurvivesReopening() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("parley.sqlite").path
            let alice = RosterStoreConformance.alice
            let bob = RosterStoreConformance.bob
            let request = RosterStoreConformance.subscribeStanza(from: bob, to: alice)
            let first = try SQLiteDatabase(path: path, migrations: RosterStoreBackend.migrations)
            try await SQLiteRosterStore(database: first).update(user: alice, contact: bob) { entry in
                entry.item = RosterItem(jid: bob, name: "Bob", subscription: .from, groups: ["x"])
                entry.pendingIn = request
            }
            try first.close()

            let second = try SQLiteDatabase(path: path, migrations: RosterStoreBackend.migrations)
            let store = SQLiteRosterStore(database: second)
            #expect(try await store.roster(of: alice) == Roster(version: 1, items: [
                RosterItem(jid: bob, name: "Bob", subscription: .from, groups: ["x"]),
            ]))
            #expect(try await store.pendingRequests(of: alice).map(\.pendingIn) == [request])
            try second.close()
        }
    }

    @Test func sqliteFailuresBecomeBackendErrors() async throws {
        let database = try SQLiteDatabase.inMemory(migrations: RosterStoreBackend.migrations)
        let store = SQLiteRosterStore(database: database)
        try database.close()
        await #expect {
            _ = try await store.roster(of: RosterStoreConformance.alice)
        } throws: { error in
            guard case .backend(let message) = error as? RosterStoreError else { return false }
            return !message.isEmpty
        }
    }
}
