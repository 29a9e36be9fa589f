import GRDB

/// One named, versioned step of the SQLite schema.
///
/// A migration is applied once per database file and recorded in GRDB's `grdb_migrations` table, so
/// a shipped migration is frozen: never rename, reorder, edit or delete it; append a new one instead.
/// Identifiers are global across features, by convention `v<N>-<feature>[-<what>]`
/// (`v1-accounts`, `v2-accounts-last-login`, `v1-roster`).
public struct SQLiteMigration: Sendable {
    /// The permanent name recorded in the database.
    public let identifier: String
    let migrate: @Sendable (Database) throws -> Void

    /// - Parameter migrate: runs inside its own write transaction; foreign keys are checked when it commits.
    init(_ identifier: String, migrate: @escaping @Sendable (Database) throws -> Void) {
        self.identifier = identifier
        self.migrate = migrate
    }

    /// The common migration: one SQL script (`CREATE TABLE`s and the like), run as is. Its text is
    /// recorded by SQLite as the schema, so once shipped it is frozen like the identifier.
    init(_ identifier: String, sql: String) {
        self.init(identifier) { db in try db.execute(sql: sql) }
    }
}
