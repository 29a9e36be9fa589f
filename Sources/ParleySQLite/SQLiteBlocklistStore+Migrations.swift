extension SQLiteBlocklistStore {
    /// The blocklist schema. Append-only: see `SQLiteMigration`.
    static let migrations: [SQLiteMigration] = [
        // One row per blocked JID, kept as its normalised string form.
        // No foreign key to `accounts`: accounts may live in another backend; the module clears a
        // user's list when the account is deleted.
        SQLiteMigration("v1-blocklist", sql: """
            CREATE TABLE blocklist_items (
                host TEXT NOT NULL,
                username TEXT NOT NULL,
                jid TEXT NOT NULL,
                PRIMARY KEY (host, username, jid)
            ) WITHOUT ROWID;
            """),
    ]
}
