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
        let text = try await database.readOneStatement(mappingErrorsTo: VCardStoreError.self) { db in
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT vcard FROM vcards WHERE host = ? AND username = ?"), arguments: [host, username])
        }
        guard let text else { return nil }
        do {
            return try StoredXML.decode(text)
        } catch {
            throw VCardStoreError.backend("stored vCard of \(username)@\(host) does not parse: \(error)")
        }
    }

    public func setVCard(_ vCard: XElement, username: String, host: String) async throws {
        try await database.execute(
            """
            INSERT INTO vcards (host, username, vcard) VALUES (?, ?, ?)
            ON CONFLICT (host, username) DO UPDATE SET vcard = excluded.vcard
            """,
            arguments: [host, username, StoredXML.encode(vCard)], mappingErrorsTo: VCardStoreError.self)
    }

    @discardableResult
    public func deleteVCard(username: String, host: String) async throws -> Bool {
        try await database.execute(
            "DELETE FROM vcards WHERE host = ? AND username = ?", arguments: [host, username],
            mappingErrorsTo: VCardStoreError.self) > 0
    }
}

extension VCardStoreError: SQLiteStoreError {}
