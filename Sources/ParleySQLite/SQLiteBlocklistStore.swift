import GRDB
import ParleyStorage
import XMPPAddress

/// Blocklists in the `blocklist_items` table of a `SQLiteDatabase`.
///
/// A stored JID this build can no longer parse is skipped when the list is read.
public final class SQLiteBlocklistStore: BlocklistStore {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func blockedJIDs(of user: JID) async throws -> [JID] {
        let (host, username) = user.accountColumns
        let strings = try await database.readOneStatement(mappingErrorsTo: BlocklistStoreError.self) { db in
            try String.fetchAll(
                db.cachedStatement(sql: "SELECT jid FROM blocklist_items WHERE host = ? AND username = ?"),
                arguments: [host, username])
        }
        // Sorted in Swift, not by ORDER BY, so every backend agrees on `String` ordering.
        return strings.compactMap { try? JID($0) }.sorted { $0.description < $1.description }
    }

    public func usersWithBlockedJIDs() async throws -> [JID] {
        let rows = try await database.readOneStatement(mappingErrorsTo: BlocklistStoreError.self) { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT host, username FROM blocklist_items"))
                .map { (host: $0[0] as String, username: $0[1] as String) }
        }
        return rows.compactMap { try? JID(localpart: $0.username.isEmpty ? nil : $0.username, domainpart: $0.host, resourcepart: nil) }
    }

    @discardableResult
    public func block(_ jids: [JID], for user: JID) async throws -> Int {
        let (host, username) = user.accountColumns
        return try await database.execute(
            """
            INSERT INTO blocklist_items (host, username, jid) VALUES (?, ?, ?)
            ON CONFLICT (host, username, jid) DO NOTHING
            """,
            forEach: jids.map { [host, username, $0.description] }, mappingErrorsTo: BlocklistStoreError.self)
    }

    @discardableResult
    public func unblock(_ jids: [JID], for user: JID) async throws -> Int {
        let (host, username) = user.accountColumns
        return try await database.execute(
            "DELETE FROM blocklist_items WHERE host = ? AND username = ? AND jid = ?",
            forEach: jids.map { [host, username, $0.description] }, mappingErrorsTo: BlocklistStoreError.self)
    }

    @discardableResult
    public func unblockAll(for user: JID) async throws -> Int {
        let (host, username) = user.accountColumns
        return try await database.execute(
            "DELETE FROM blocklist_items WHERE host = ? AND username = ?", arguments: [host, username],
            mappingErrorsTo: BlocklistStoreError.self)
    }
}

extension BlocklistStoreError: SQLiteStoreError {}
