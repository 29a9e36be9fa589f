extension SQLiteOfflineStore {
    /// The offline-message schema. Append-only: see `SQLiteMigration`.
    static let migrations: [SQLiteMigration] = [
        // AUTOINCREMENT: ids are never reused, so removing delivered messages by id can never remove
        // a message stored later under a recycled id (e.g. after an operator cleared the queue).
        // No foreign key to `accounts`: accounts may live in another backend; the module deletes a
        // user's messages when the account is deleted.
        // The stanza is kept as `StoredXML` text.
        SQLiteMigration("v1-offline", sql: """
            CREATE TABLE offline_messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                host TEXT NOT NULL,
                username TEXT NOT NULL,
                stored_at INTEGER NOT NULL,
                stanza TEXT NOT NULL
            );

            CREATE INDEX offline_messages_by_user ON offline_messages (host, username, id);
            """),
    ]
}
