import Foundation
import ParleySQLite

/// A fresh directory under the system temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("parley-storage-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// The path of a database file, not yet created, in a fresh temporary directory removed afterwards.
/// The same path can be opened, closed and opened again within `body`.
func withTemporaryDatabasePath<T>(_ body: (String) async throws -> T) async throws -> T {
    try await withTemporaryDirectory { directory in
        try await body(directory.appendingPathComponent("parley.sqlite").path)
    }
}

/// A SQLite store whose database is already closed, so every call fails inside SQLite: for checking
/// that each store reports such failures as its own `.backend` error.
func sqliteStoreOnClosedDatabase<Store>(_ makeStore: (SQLiteDatabase) -> Store) throws -> Store {
    let database = try SQLiteDatabase.inMemory()
    let store = makeStore(database)
    try database.close()
    return store
}
