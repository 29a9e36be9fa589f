import Foundation
import ParleySQLite
import ParleyStorage
import Testing
import XMPPXML

/// The backends the vCard, private XML and last-activity conformance suites run on.
enum AccountDataStoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory
    case sqliteInMemory
    case sqliteFile

    var testDescription: String { rawValue }

    /// The registered migrations plus these stores', until theirs are registered centrally.
    static var migrations: [SQLiteMigration] {
        let registered = Set(SQLiteDatabase.migrations.map(\.identifier))
        let own = SQLiteVCardStore.migrations + SQLitePrivateXMLStore.migrations + SQLiteLastActivityStore.migrations
        return SQLiteDatabase.migrations + own.filter { !registered.contains($0.identifier) }
    }

    /// Runs `body` on a fresh, empty store of this backend, then disposes of it.
    func withStore<Store>(
        inMemory: () -> Store, sqlite: (SQLiteDatabase) -> Store, _ body: (Store) async throws -> Void
    ) async throws {
        switch self {
        case .inMemory:
            try await body(inMemory())
        case .sqliteInMemory:
            try await body(sqlite(SQLiteDatabase.inMemory(migrations: Self.migrations)))
        case .sqliteFile:
            try await withTemporaryDirectory { directory in
                let database = try SQLiteDatabase(
                    path: directory.appendingPathComponent("parley.sqlite").path, migrations: Self.migrations)
                try await body(sqlite(database))
                try database.close()
            }
        }
    }

    func withVCardStore(_ body: (any VCardStore) async throws -> Void) async throws {
        try await withStore(inMemory: { InMemoryVCardStore() }, sqlite: { SQLiteVCardStore(database: $0) }, body)
    }

    func withPrivateXMLStore(_ body: (any PrivateXMLStore) async throws -> Void) async throws {
        try await withStore(inMemory: { InMemoryPrivateXMLStore() }, sqlite: { SQLitePrivateXMLStore(database: $0) }, body)
    }

    func withLastActivityStore(_ body: (any LastActivityStore) async throws -> Void) async throws {
        try await withStore(inMemory: { InMemoryLastActivityStore() }, sqlite: { SQLiteLastActivityStore(database: $0) }, body)
    }
}

/// XML that exercises what a text backend must keep: namespaces (default, nested, foreign, none),
/// qualified attributes, xml:lang, characters that need escaping, non-ASCII text, empty elements.
func richStoredElement(_ name: String, namespace: String, marker: String = "") -> XElement {
    var root = XElement(name, namespace: namespace, ["version": "3.0"])
    root.attributes.append(XAttribute(name: "lang", namespace: XMLNamespace.xml, value: "en"))
    root.attributes.append(XAttribute(name: "flag", namespace: "urn:example:attrs", value: "a'b\"c<d>&e"))
    var fn = XElement("FN", namespace: namespace)
    fn.append(text: "Zoë <&> \"quoted\" 'single' \(marker) — 漢字 🎉")
    root.append(fn)
    var nested = XElement("N", namespace: namespace)
    nested.append(XElement("FAMILY", namespace: namespace, children: [.text("Saint-Andre")]))
    nested.append(XElement("MIDDLE", namespace: namespace))
    root.append(nested)
    var foreign = XElement("extra", namespace: "urn:example:foreign", ["k": "v"])
    foreign.append(XElement("inner", namespace: "urn:example:foreign"))
    foreign.append(XElement("unqualified", namespace: ""))
    root.append(foreign)
    var mixed = XElement("DESC", namespace: namespace)
    mixed.append(text: "  leading and trailing spaces\n second line  ")
    root.append(mixed)
    return root
}
