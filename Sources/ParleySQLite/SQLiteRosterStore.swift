import GRDB
import ParleyStorage
import XMPPAddress
import XMPPXML

/// Rosters in the `roster_versions`, `roster_entries` and `roster_groups` tables of a `SQLiteDatabase`.
public final class SQLiteRosterStore: RosterStore {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func roster(of user: JID) async throws -> Roster {
        let key = user.bare.description
        return try await database.read(mappingErrorsTo: RosterStoreError.self) { db in
            let version = try Self.version(of: key, db)
            let groups = try Self.groups(of: key, contact: nil, db)
            // A cursor: read at every login, its rows are decoded in place rather than copied first.
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT \(Self.entryColumns) FROM roster_entries WHERE user_jid = ? AND in_roster = 1"), arguments: [key])
            var items: [(String, RosterItem)] = []
            while let row = try rows.next() {
                if let item = try Self.entry(from: row, groups: groups).item { items.append((row[0], item)) }
            }
            // Sorted in Swift, so every backend agrees on `String` ordering; by the stored string,
            // which is the JID's canonical form, rather than by rebuilding it at every comparison.
            return Roster(version: version, items: items.sorted { $0.0 < $1.0 }.map(\.1))
        }
    }

    public func subscriptions(of user: JID) async throws -> [ContactSubscription] {
        let key = user.bare.description
        return try await database.readOneStatement(mappingErrorsTo: RosterStoreError.self) { db in
            // A cursor: read on every presence broadcast, its rows are decoded in place, not copied first.
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT contact_jid, subscription FROM roster_entries WHERE user_jid = ? AND in_roster = 1"),
                arguments: [key])
            var subscriptions: [ContactSubscription] = []
            while let row = try rows.next() {
                let contactString: String = row[0]
                guard let contact = try? JID(contactString), let subscription = RosterSubscription(rawValue: row[1]) else {
                    throw RosterStoreError.backend("unreadable stored roster item for \(contactString)")
                }
                subscriptions.append(ContactSubscription(jid: contact, subscription: subscription))
            }
            return subscriptions
        }
    }

    public func entry(of user: JID, contact: JID) async throws -> RosterEntry {
        let key = user.bare.description
        let contact = contact.bare
        return try await database.read(mappingErrorsTo: RosterStoreError.self) { db in
            try Self.load(key, contact, db)
        }
    }

    public func subscription(of user: JID, contact: JID) async throws -> RosterSubscription? {
        let key = user.bare.description
        let contactKey = contact.bare.description
        return try await database.readOneStatement(mappingErrorsTo: RosterStoreError.self) { db in
            guard let stored = try String.fetchOne(
                db.cachedStatement(sql: "SELECT subscription FROM roster_entries WHERE user_jid = ? AND contact_jid = ? AND in_roster = 1"),
                arguments: [key, contactKey])
            else { return nil }
            guard let subscription = RosterSubscription(rawValue: stored) else {
                throw RosterStoreError.backend("unknown stored subscription for \(contactKey)")
            }
            return subscription
        }
    }

    public func pendingRequests(of user: JID) async throws -> [RosterEntry] {
        let key = user.bare.description
        // Read at every login, and almost always empty: one statement finds that out, and only when
        // there is something are the rows and their groups read together in a transaction.
        let any = try await database.readOneStatement(mappingErrorsTo: RosterStoreError.self) { db in
            try Row.fetchOne(db.cachedStatement(sql: Self.anyPendingSQL), arguments: [key]) != nil
        }
        guard any else { return [] }
        return try await database.read(mappingErrorsTo: RosterStoreError.self) { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: Self.pendingSQL), arguments: [key])
            let groups = try Self.groups(of: key, contact: nil, db)
            return try rows.map { try Self.entry(from: $0, groups: groups) }
                .sorted { $0.contact.description < $1.contact.description }
        }
    }

    @discardableResult
    public func update<Result: Sendable>(
        user: JID, contact: JID, _ body: @escaping @Sendable (inout RosterEntry) throws -> Result
    ) async throws -> RosterChange<Result> {
        let key = user.bare.description
        let contact = contact.bare
        return try await database.write(mappingErrorsTo: RosterStoreError.self) { db in
            let before = try Self.load(key, contact, db)
            var entry = before
            let result: Result
            do {
                result = try body(&entry)
            } catch {
                // Rolls back; the caller gets the body's own error, whatever its type.
                throw SQLiteDatabase.UnmappedError(error: error)
            }
            var item = entry.item
            item?.jid = contact
            let after = RosterEntry(contact: contact, item: item, pendingIn: entry.pendingIn)
            if after != before { try Self.save(after, user: key, db) }
            let version: Int64
            if before.item != after.item {
                try db.cachedStatement(sql: """
                    INSERT INTO roster_versions (user_jid, version) VALUES (?, 1)
                    ON CONFLICT (user_jid) DO UPDATE SET version = version + 1
                    """).execute(arguments: [key])
            }
            version = try Self.version(of: key, db)
            return RosterChange(before: before, after: after, version: version, result: result)
        }
    }

    public func deleteRoster(of user: JID) async throws {
        let key = user.bare.description
        try await database.write(mappingErrorsTo: RosterStoreError.self) { db in
            // Groups go with their entries: ON DELETE CASCADE.
            try db.cachedStatement(sql: "DELETE FROM roster_entries WHERE user_jid = ?").execute(arguments: [key])
            try db.cachedStatement(sql: "UPDATE roster_versions SET version = version + 1 WHERE user_jid = ?").execute(arguments: [key])
        }
    }

    // MARK: - Rows

    private static let pendingSQL = "SELECT \(entryColumns) FROM roster_entries WHERE user_jid = ? AND pending_in IS NOT NULL"
    private static let anyPendingSQL = "SELECT 1 FROM roster_entries WHERE user_jid = ? AND pending_in IS NOT NULL LIMIT 1"

    private static func version(of user: String, _ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT version FROM roster_versions WHERE user_jid = ?"), arguments: [user]) ?? 0
    }

    /// Group names by contact JID string, in position order.
    private static func groups(of user: String, contact: String?, _ db: Database) throws -> [String: [String]] {
        let rows: RowCursor
        if let contact {
            rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT contact_jid, name FROM roster_groups WHERE user_jid = ? AND contact_jid = ? ORDER BY position
                """), arguments: [user, contact])
        } else {
            rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT contact_jid, name FROM roster_groups WHERE user_jid = ? ORDER BY contact_jid, position
                """), arguments: [user])
        }
        var groups: [String: [String]] = [:]
        while let row = try rows.next() { groups[row[0] as String, default: []].append(row[1]) }
        return groups
    }

    private static func load(_ user: String, _ contact: JID, _ db: Database) throws -> RosterEntry {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(Self.entryColumns) FROM roster_entries WHERE user_jid = ? AND contact_jid = ?"),
            arguments: [user, contact.description])
        else { return RosterEntry(contact: contact) }
        return try entry(from: row, groups: groups(of: user, contact: contact.description, db))
    }

    /// The columns `entry(from:groups:)` reads, by position: named lookups lower-case the name on
    /// every access, which showed in the login profile (about twenty rows read per login).
    private static let entryColumns = "contact_jid, in_roster, name, subscription, ask_subscribe, approved, pending_in"

    private static func entry(from row: Row, groups: [String: [String]]) throws -> RosterEntry {
        let contactString: String = row[0]
        guard let contact = try? JID(contactString) else {
            throw RosterStoreError.backend("stored contact is not a JID: \(contactString)")
        }
        var item: RosterItem?
        if row[1] as Bool {
            guard let subscription = RosterSubscription(rawValue: row[3]) else {
                throw RosterStoreError.backend("unknown stored subscription for \(contactString)")
            }
            item = RosterItem(
                jid: contact, name: row[2], subscription: subscription,
                askSubscribe: row[4], approved: row[5],
                groups: groups[contactString] ?? [])
        }
        let pendingIn = try (row[6] as String?).map(StanzaText.decode)
        return RosterEntry(contact: contact, item: item, pendingIn: pendingIn)
    }

    private static func save(_ entry: RosterEntry, user: String, _ db: Database) throws {
        let contact = entry.contact.description
        guard !entry.isEmpty else {
            try db.execute(
                sql: "DELETE FROM roster_entries WHERE user_jid = ? AND contact_jid = ?", arguments: [user, contact])
            return
        }
        let item = entry.item
        try db.cachedStatement(sql: """
            INSERT INTO roster_entries (user_jid, contact_jid, in_roster, name, subscription, ask_subscribe, approved, pending_in)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (user_jid, contact_jid) DO UPDATE SET
                in_roster = excluded.in_roster, name = excluded.name, subscription = excluded.subscription,
                ask_subscribe = excluded.ask_subscribe, approved = excluded.approved, pending_in = excluded.pending_in
            """).execute(arguments: [
                user, contact, item != nil, item?.name, (item?.subscription ?? .none).rawValue,
                item?.askSubscribe ?? false, item?.approved ?? false, entry.pendingIn.map(StanzaText.encode),
            ])
        try db.cachedStatement(sql: "DELETE FROM roster_groups WHERE user_jid = ? AND contact_jid = ?").execute(arguments: [user, contact])
        try db.changes(
            executing: "INSERT INTO roster_groups (user_jid, contact_jid, position, name) VALUES (?, ?, ?, ?)",
            forEach: (item?.groups ?? []).enumerated().map { position, group in [user, contact, position, group] })
    }

    /// A stanza stored as XML text, namespace declarations included, parsed back into the same element.
    private enum StanzaText {
        static func encode(_ element: XElement) -> String {
            XMLSerializer().serialize(element, inheritedNamespace: "")
        }

        static func decode(_ text: String) throws -> XElement {
            // Stored stanzas came off a stream within its limits; these only bound a corrupt row.
            let parser = XMLStreamParser(limits: XMLStreamLimits(maxTokenBytes: 1 << 20, maxElementBytes: 1 << 22, maxDepth: 128))
            do {
                for event in try parser.feed("<stored>" + text + "</stored>") {
                    if case .element(let element) = event { return element }
                }
            } catch {
                throw RosterStoreError.backend("stored stanza is not well-formed: \(error)")
            }
            throw RosterStoreError.backend("stored stanza is empty")
        }
    }
}

extension RosterStoreError: SQLiteStoreError {}
