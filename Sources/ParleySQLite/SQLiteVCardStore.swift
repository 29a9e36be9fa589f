import GRDB
import ParleyStorage
import XMPPXML

/// vCards in the `vcards` table of a `SQLiteDatabase`, as XML text (`StoredXML`).
public final class SQLiteVCardStore: VCardStore {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func vCard(username: String, host: String) async throws -> XElement? {
        let text = try await mappingErrors {
            try await database.writer.read { db in
                try String.fetchOne(
                    db, sql: "SELECT vcard FROM vcards WHERE host = ? AND username = ?", arguments: [host, username])
            }
        }
        guard let text else { return nil }
        do {
            return try StoredXML.decode(text)
        } catch {
            throw VCardStoreError.backend("stored vCard of \(username)@\(host) does not parse: \(error)")
        }
    }

    public func setVCard(_ vCard: XElement, username: String, host: String) async throws {
        let text = StoredXML.encode(vCard)
        try await mappingErrors {
            try await database.writer.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO vcards (host, username, vcard) VALUES (?, ?, ?)
                        ON CONFLICT (host, username) DO UPDATE SET vcard = excluded.vcard
                        """,
                    arguments: [host, username, text])
            }
        }
    }

    @discardableResult
    public func deleteVCard(username: String, host: String) async throws -> Bool {
        try await mappingErrors {
            try await database.writer.write { db in
                try db.execute(sql: "DELETE FROM vcards WHERE host = ? AND username = ?", arguments: [host, username])
                return db.changesCount > 0
            }
        }
    }

    /// GRDB errors become `VCardStoreError.backend`; cancellation passes through.
    private func mappingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CancellationError {
            throw error
        } catch {
            throw VCardStoreError.backend(String(describing: error))
        }
    }
}
