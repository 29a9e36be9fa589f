import Foundation
import ParleySQLite
import ParleyStorage
import Testing
import XMPPSASL

@Suite("SQLiteDatabase")
struct SQLiteDatabaseTests {
    private let alice = Fixtures.account("alice", "example.com", hashes: SCRAMHash.allCases, seed: 3, createdAt: 123)

    @Test func dataSurvivesClosingAndReopening() async throws {
        try await withTemporaryDirectory { directory in
            // Parent directories are created.
            let path = directory.appendingPathComponent("var/lib/parley/parley.sqlite").path
            let first = try SQLiteDatabase(path: path)
            try await SQLiteAccountStore(database: first).create(alice)
            try first.close()
            #expect(FileManager.default.fileExists(atPath: path))

            let second = try SQLiteDatabase(path: path)
            AccountStoreConformance.expectSame(
                try await SQLiteAccountStore(database: second).account(username: "alice", host: "example.com"), alice)
            try second.close()
        }
    }

    /// The file holds every account's SCRAM keys: only the server's user may read it or its directory.
    @Test func onlyTheOwnerCanReadTheDatabase() async throws {
        func mode(_ path: String) throws -> Int {
            try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) & 0o777
        }
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("data/parley.sqlite").path
            let fresh = try SQLiteDatabase(path: path)
            try await SQLiteAccountStore(database: fresh).create(alice)
            #expect(try mode(path) == 0o600)
            #expect(try mode(path + "-wal") == 0o600)
            #expect(try mode(directory.appendingPathComponent("data").path) == 0o700)
            try fresh.close()

            // A file an older version left readable by everyone is narrowed when opened.
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            let reopened = try SQLiteDatabase(path: path)
            #expect(try mode(path) == 0o600)
            AccountStoreConformance.expectSame(
                try await SQLiteAccountStore(database: reopened).account(username: "alice", host: "example.com"), alice)
            try reopened.close()
        }
    }

    @Test func migrationsAreIdempotentOnReopen() async throws {
        let identifiers = SQLiteDatabase.migrations.map(\.identifier)
        #expect(identifiers.first == "v1-accounts")
        #expect(Set(identifiers).count == identifiers.count, "migration identifiers must be unique")

        try await withTemporaryDatabasePath { path in
            let first = try SQLiteDatabase(path: path)
            #expect(try await first.appliedMigrations() == identifiers)
            try await SQLiteAccountStore(database: first).create(alice)
            try first.close()

            for _ in 0..<3 {
                let again = try SQLiteDatabase(path: path)
                #expect(try await again.appliedMigrations() == identifiers)
                let store = SQLiteAccountStore(database: again)
                #expect(try await store.usernames(host: "example.com") == ["alice"])
                try again.close()
            }
        }
    }

    @Test func olderDatabaseIsUpgraded() async throws {
        try await withTemporaryDatabasePath { path in
            let old = try SQLiteDatabase(path: path, migrations: [])
            #expect(try await old.appliedMigrations() == [])
            try old.close()

            let current = try SQLiteDatabase(path: path)
            #expect(try await current.appliedMigrations() == SQLiteDatabase.migrations.map(\.identifier))
            try await SQLiteAccountStore(database: current).create(alice)
            try current.close()
        }
    }

    @Test func databaseFromNewerVersionIsRefused() async throws {
        try await withTemporaryDatabasePath { path in
            try SQLiteDatabase(path: path).close()
            let all = SQLiteDatabase.migrations
            #expect(throws: SQLiteDatabaseError.schemaIsNewer(unknownMigrations: all.map(\.identifier).sorted())) {
                _ = try SQLiteDatabase(path: path, migrations: [])
            }
            // An older build that knows only the first migration refuses it too.
            if all.count > 1 {
                let unknown = all.dropFirst().map(\.identifier).sorted()
                #expect(throws: SQLiteDatabaseError.schemaIsNewer(unknownMigrations: unknown)) {
                    _ = try SQLiteDatabase(path: path, migrations: Array(all.prefix(1)))
                }
            }
            // The current build still opens it.
            try SQLiteDatabase(path: path).close()
        }
    }

    @Test func twoInstancesOnOneFileSeeEachOthersWrites() async throws {
        try await withTemporaryDatabasePath { path in
            // As the running server and a `parley user add` process would.
            let server = try SQLiteDatabase(path: path)
            let cli = try SQLiteDatabase(path: path)
            let serverStore = SQLiteAccountStore(database: server)
            let cliStore = SQLiteAccountStore(database: cli)
            #expect(FileManager.default.fileExists(atPath: path + "-wal"), "WAL mode")

            try await cliStore.create(alice)
            AccountStoreConformance.expectSame(
                try await serverStore.account(username: "alice", host: "example.com"), alice)

            let changed = Fixtures.credentials([.sha512], seed: 77)
            try await serverStore.setCredentials(username: "alice", host: "example.com", credentials: changed)
            #expect(try await cliStore.account(username: "alice", host: "example.com")?.credentials == changed)

            await #expect(throws: AccountStoreError.alreadyExists) { try await serverStore.create(alice) }

            // Writers of both instances interleave; the busy timeout makes each wait for the other.
            try await withThrowingTaskGroup(of: Int.self) { group in
                for batch in 0..<8 {
                    let store = batch.isMultiple(of: 2) ? serverStore : cliStore
                    group.addTask {
                        var created = 0
                        for index in 0..<25 {
                            try await store.create(Fixtures.account("u\(batch)-\(index)", "busy.example", hashes: [.sha256]))
                            created += 1
                        }
                        return try await created + store.createMany(
                            (0..<50).map { Fixtures.account("m\(batch)-\($0)", "busy.example", hashes: [.sha1]) })
                    }
                }
                let created = try await group.reduce(0, +)
                #expect(created == 8 * 75)
            }
            #expect(try await serverStore.usernames(host: "busy.example").count == 600)
            #expect(try await cliStore.usernames(host: "busy.example").count == 600)

            #expect(try await cliStore.delete(username: "alice", host: "example.com"))
            #expect(try await serverStore.account(username: "alice", host: "example.com") == nil)
            try server.close()
            try cli.close()
        }
    }

    @Test func concurrentFirstOpensOfAFreshFileAllSucceed() async throws {
        try await withTemporaryDatabasePath { path in
            let databases = try await withThrowingTaskGroup(of: SQLiteDatabase.self) { group in
                for _ in 0..<4 { group.addTask { try SQLiteDatabase(path: path) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for database in databases {
                #expect(try await database.appliedMigrations() == SQLiteDatabase.migrations.map(\.identifier))
                try database.close()
            }
        }
    }

    @Test func inMemoryDatabasesAreSeparate() async throws {
        let one = SQLiteAccountStore(database: try SQLiteDatabase.inMemory())
        let two = SQLiteAccountStore(database: try SQLiteDatabase.inMemory())
        try await one.create(alice)
        #expect(try await two.account(username: "alice", host: "example.com") == nil)
    }

    @Test func sqliteFailuresBecomeBackendErrors() async throws {
        let store = try sqliteStoreOnClosedDatabase(SQLiteAccountStore.init)
        await #expect {
            _ = try await store.account(username: "alice", host: "example.com")
        } throws: { error in
            guard case .backend(let message) = error as? AccountStoreError else { return false }
            return !message.isEmpty
        }
    }
}
