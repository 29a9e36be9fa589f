import GRDB
import ParleyStorage
import XMPPXML

/// Private XML (XEP-0049) in the `private_xml` table of a `SQLiteDatabase`, as XML text (`StoredXML`).
public final class SQLitePrivateXMLStore: PrivateXMLStore {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func element(name: String, namespace: String, username: String, host: String) async throws -> XElement? {
        let text = try await database.readOneStatement(mappingErrorsTo: PrivateXMLStoreError.self) { db in
            try String.fetchOne(
                db.cachedStatement(
                sql: "SELECT element FROM private_xml WHERE host = ? AND username = ? AND namespace = ? AND name = ?"),
                arguments: [host, username, namespace, name])
        }
        guard let text else { return nil }
        do {
            return try StoredXML.decode(text)
        } catch {
            throw PrivateXMLStoreError.backend("stored private XML of \(username)@\(host) does not parse: \(error)")
        }
    }

    public func store(_ elements: [XElement], username: String, host: String) async throws {
        // One transaction: a set with several children is stored whole or not at all.
        try await database.execute(
            """
            INSERT INTO private_xml (host, username, namespace, name, element) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (host, username, namespace, name) DO UPDATE SET element = excluded.element
            """,
            forEach: elements.map { [host, username, $0.namespace, $0.name, StoredXML.encode($0)] },
            mappingErrorsTo: PrivateXMLStoreError.self)
    }

    public func deleteAll(username: String, host: String) async throws {
        try await database.execute(
            "DELETE FROM private_xml WHERE host = ? AND username = ?", arguments: [host, username],
            mappingErrorsTo: PrivateXMLStoreError.self)
    }
}

extension PrivateXMLStoreError: SQLiteStoreError {}
