import Foundation
import ParleySQLite
import ParleyStorage
import Testing

/// Every `AccountStore` implementation the conformance suite runs on. Add PostgreSQL here.
enum AccountStoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory
    /// `SQLiteDatabase.inMemory()`: a single-connection queue.
    case sqliteInMemory
    /// A WAL `DatabasePool` on a temporary file, as the server runs it.
    case sqliteFile

    var testDescription: String { rawValue }

    /// Runs `body` on a fresh, empty store, then disposes of it.
    func withStore(_ body: (any AccountStore) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            try await body(InMemoryAccountStore())
        case .sqliteInMemory:
            try await body(SQLiteAccountStore(database: SQLiteDatabase.inMemory()))
        case .sqliteFile:
            try await withTemporaryDirectory { directory in
                let database = try SQLiteDatabase(path: directory.appendingPathComponent("parley.sqlite").path)
                try await body(SQLiteAccountStore(database: database))
                try database.close()
            }
        }
    }
}

/// A fresh directory under the system temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("parley-storage-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}
