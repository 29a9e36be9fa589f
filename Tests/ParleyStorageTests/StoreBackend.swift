import ParleySQLite
import ParleyStorage
import Testing

/// Every backend the store conformance suites run on, for every kind of store. Add PostgreSQL here.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory
    /// `SQLiteDatabase.inMemory()`: a single-connection queue.
    case sqliteInMemory
    /// A WAL `DatabasePool` on a temporary file, as the server runs it.
    case sqliteFile

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh, empty store of this backend, then disposes of it.
    ///
    /// The SQLite database gets every registered migration, as the server opens it, so a store is
    /// tested next to the other stores' tables.
    func withStore<Store>(
        inMemory: () -> Store, sqlite: (SQLiteDatabase) -> Store, _ body: (Store) async throws -> Void
    ) async throws {
        switch self {
        case .inMemory:
            try await body(inMemory())
        case .sqliteInMemory:
            try await body(sqlite(SQLiteDatabase.inMemory()))
        case .sqliteFile:
            try await withTemporaryDatabasePath { path in
                let database = try SQLiteDatabase(path: path)
                try await body(sqlite(database))
                try database.close()
            }
        }
    }
}

/// One entry per kind of store: its two implementations. A new store adds a method here and its suite
/// takes `StoreBackend.allCases` as arguments.
extension StoreBackend {
    typealias Body<Store> = (Store) async throws -> Void

    func withAccountStore(_ body: Body<any AccountStore>) async throws {
        try await withStore(inMemory: InMemoryAccountStore.init, sqlite: SQLiteAccountStore.init, body)
    }
    func withRosterStore(_ body: Body<any RosterStore>) async throws {
        try await withStore(inMemory: InMemoryRosterStore.init, sqlite: SQLiteRosterStore.init, body)
    }
    func withOfflineStore(_ body: Body<any OfflineStore>) async throws {
        try await withStore(inMemory: InMemoryOfflineStore.init, sqlite: SQLiteOfflineStore.init, body)
    }
    func withBlocklistStore(_ body: Body<any BlocklistStore>) async throws {
        try await withStore(inMemory: InMemoryBlocklistStore.init, sqlite: SQLiteBlocklistStore.init, body)
    }
    func withVCardStore(_ body: Body<any VCardStore>) async throws {
        try await withStore(inMemory: InMemoryVCardStore.init, sqlite: SQLiteVCardStore.init, body)
    }
    func withPrivateXMLStore(_ body: Body<any PrivateXMLStore>) async throws {
        try await withStore(inMemory: InMemoryPrivateXMLStore.init, sqlite: SQLitePrivateXMLStore.init, body)
    }
    func withLastActivityStore(_ body: Body<any LastActivityStore>) async throws {
        try await withStore(inMemory: InMemoryLastActivityStore.init, sqlite: SQLiteLastActivityStore.init, body)
    }
}
