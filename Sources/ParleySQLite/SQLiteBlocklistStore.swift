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
        let (host, username) = Self.key(user)
        let strings = try await mappingErrors {
            try await database.writer.read { db in
                try String.fetchAll(
                    db, sql: "SELECT jid FROM blocklist_items WHERE host = ? AND username = ?",
                    arguments: [host, username])
            }
        }
        // Sorted in Swift, not by ORDER BY, so every backend agrees on `String` ordering.
        return strings.compactMap { try? JID($0) }.sorted { $0.description < $1.description }
    }

    @discardableResult
    public func block(_ jids: [JID], for user: JID) async throws -> Int {
        guard !jids.isEmpty else { return 0 }
        let (host, username) = Self.key(user)
        return try await mappingErrors {
            try await database.writer.write { db in
                let statement = try db.cachedStatement(sql: """
                    INSERT INTO blocklist_items (host, username, jid) VALUES (?, ?, ?)
                    ON CONFLICT (host, username, jid) DO NOTHING
                    """)
                var added = 0
                for jid in jids {
                    try statement.execute(arguments: [host, username, jid.description])
                    added += db.changesCount
                }
                return added
            }
        }
    }

    @discardableResult
    public func unblock(_ jids: [JID], for user: JID) async throws -> Int {
        guard !jids.isEmpty else { return 0 }
        let (host, username) = Self.key(user)
        return try await mappingErrors {
            try await database.writer.write { db in
                let statement = try db.cachedStatement(
                    sql: "DELETE FROM blocklist_items WHERE host = ? AND username = ? AND jid = ?")
                var removed = 0
                for jid in jids {
                    try statement.execute(arguments: [host, username, jid.description])
                    removed += db.changesCount
                }
                return removed
            }
        }
    }

    @discardableResult
    public func unblockAll(for user: JID) async throws -> Int {
        let (host, username) = Self.key(user)
        return try await mappingErrors {
            try await database.writer.write { db in
                try db.execute(
                    sql: "DELETE FROM blocklist_items WHERE host = ? AND username = ?",
                    arguments: [host, username])
                return db.changesCount
            }
        }
    }

    private static func key(_ user: JID) -> (host: String, username: String) {
        (user.domainpart, user.localpart ?? "")
    }

    /// GRDB errors become `BlocklistStoreError.backend`; cancellation passes through.
    private func mappingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BlocklistStoreError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw BlocklistStoreError.backend(String(describing: error))
        }
    }
}
