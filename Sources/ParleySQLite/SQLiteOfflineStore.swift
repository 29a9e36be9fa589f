import GRDB
import ParleyStorage
import XMPPAddress
import XMPPXML

/// Offline messages in the `offline_messages` table of a `SQLiteDatabase`.
public final class SQLiteOfflineStore: OfflineStore {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func append(_ stanza: XElement, for user: JID, storedAt: Int64, limit: Int) async throws -> OfflineMessage? {
        let (host, username) = user.accountColumns
        let text = StoredXML.encode(stanza)
        // One write transaction: the count and the insert cannot interleave with another append.
        return try await database.write(mappingErrorsTo: OfflineStoreError.self) { db in
            let count = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM offline_messages WHERE host = ? AND username = ?"),
                arguments: [host, username]) ?? 0
            guard count < limit else { return nil }
            try db.execute(
                sql: "INSERT INTO offline_messages (host, username, stored_at, stanza) VALUES (?, ?, ?, ?)",
                arguments: [host, username, storedAt, text])
            return OfflineMessage(id: db.lastInsertedRowID, storedAt: storedAt, stanza: stanza)
        }
    }

    public func messages(for user: JID, limit: Int?) async throws -> [OfflineMessage] {
        let (host, username) = user.accountColumns
        // Columns are copied out inside the read: GRDB's async read needs a Sendable result (a `Row` is not).
        let rows = try await database.readOneStatement(mappingErrorsTo: OfflineStoreError.self) { db in
            try Row.fetchAll(
                db.cachedStatement(
                sql: """
                    SELECT id, stored_at, stanza FROM offline_messages
                    WHERE host = ? AND username = ? ORDER BY id LIMIT ?
                    """),
                arguments: [host, username, limit.map { max($0, 0) } ?? -1]
            ).map { row -> (id: Int64, storedAt: Int64, stanza: String) in
                (row["id"], row["stored_at"], row["stanza"])
            }
        }
        return try rows.map { row in
            do {
                return OfflineMessage(id: row.id, storedAt: row.storedAt, stanza: try StoredXML.decode(row.stanza))
            } catch {
                throw OfflineStoreError.backend("offline message \(row.id) is not a readable stanza: \(error)")
            }
        }
    }

    public func count(for user: JID) async throws -> Int {
        let (host, username) = user.accountColumns
        return try await database.readOneStatement(mappingErrorsTo: OfflineStoreError.self) { db in
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM offline_messages WHERE host = ? AND username = ?"),
                arguments: [host, username]) ?? 0
        }
    }

    @discardableResult
    public func remove(ids: [Int64], for user: JID) async throws -> Int {
        let (host, username) = user.accountColumns
        return try await database.execute(
            "DELETE FROM offline_messages WHERE id = ? AND host = ? AND username = ?",
            forEach: ids.map { [$0, host, username] }, mappingErrorsTo: OfflineStoreError.self)
    }

    @discardableResult
    public func removeAll(for user: JID) async throws -> Int {
        let (host, username) = user.accountColumns
        return try await database.execute(
            "DELETE FROM offline_messages WHERE host = ? AND username = ?", arguments: [host, username],
            mappingErrorsTo: OfflineStoreError.self)
    }
}

extension OfflineStoreError: SQLiteStoreError {}
