import Foundation
@testable import ParleySQLite
import ParleyStorage
import Testing

/// Every `RosterStore` implementation the conformance suite runs on.
enum RosterStoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory
    case sqliteInMemory
    case sqliteFile

    var testDescription: String { rawValue }

    /// The registered migrations plus the roster's, until the roster's are registered centrally.
    static var migrations: [SQLiteMigration] {
        let registered = Set(SQLiteDatabase.migrations.map(\.identifier))
        return SQLiteDatabase.migrations + SQLiteRosterStore.migrations.filter { !registered.contains($0.identifier) }
    }

    /// Runs `body` on a fresh, empty store, then disposes of it.
    func withStore(_ body: (any RosterStore) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            try await body(InMemoryRosterStore())
        case .sqliteInMemory:
            try await body(SQLiteRosterStore(database: SQLiteDatabase.inMemory(migrations: Self.migrations)))
        case .sqliteFile:
            try await withTemporaryDirectory { directory in
                let database = try SQLiteDatabase(
                    path: directory.appendingPathComponent("parley.sqlite").path, migrations: Self.migrations)
                try await body(SQLiteRosterStore(database: database))
                try database.close()
            }
        }
    }
}
