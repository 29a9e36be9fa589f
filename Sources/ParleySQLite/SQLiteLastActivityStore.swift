import GRDB
import ParleyStorage

/// Last activity (XEP-0012) in the `last_activity` table of a `SQLiteDatabase`.
public final class SQLiteLastActivityStore: LastActivityStore {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func lastActivity(username: String, host: String) async throws -> LastActivityRecord? {
        try await database.readOneStatement(mappingErrorsTo: LastActivityStoreError.self) { db in
            guard let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT timestamp, status FROM last_activity WHERE host = ? AND username = ?"),
                arguments: [host, username])
            else { return nil }
            return LastActivityRecord(timestamp: row["timestamp"], status: row["status"])
        }
    }

    public func setLastActivity(_ record: LastActivityRecord, username: String, host: String) async throws {
        try await database.execute(
            """
            INSERT INTO last_activity (host, username, timestamp, status) VALUES (?, ?, ?, ?)
            ON CONFLICT (host, username) DO UPDATE SET timestamp = excluded.timestamp, status = excluded.status
            """,
            arguments: [host, username, record.timestamp, record.status], mappingErrorsTo: LastActivityStoreError.self)
    }

    @discardableResult
    public func deleteLastActivity(username: String, host: String) async throws -> Bool {
        try await database.execute(
            "DELETE FROM last_activity WHERE host = ? AND username = ?", arguments: [host, username],
            mappingErrorsTo: LastActivityStoreError.self) > 0
    }
}

extension LastActivityStoreError: SQLiteStoreError {}
