extension SQLiteAccountStore {
    /// The accounts schema. Append-only: see `SQLiteMigration`.
    static let migrations: [SQLiteMigration] = [
        // host leads the primary key so `usernames(host:)` is a range scan of the key.
        // WITHOUT ROWID: the tables are looked up only by their natural (text) keys.
        // The SCRAM hash is its `SCRAMHash` raw value ("SHA-256"); no CHECK on it, so a later hash
        // needs no table rebuild. Keys and salt are raw bytes (RFC 5802 §5), never base64.
        SQLiteMigration("v1-accounts", sql: """
            CREATE TABLE accounts (
                host TEXT NOT NULL,
                username TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (host, username)
            ) WITHOUT ROWID;

            CREATE TABLE account_credentials (
                host TEXT NOT NULL,
                username TEXT NOT NULL,
                hash TEXT NOT NULL,
                salt BLOB NOT NULL,
                iterations INTEGER NOT NULL,
                stored_key BLOB NOT NULL,
                server_key BLOB NOT NULL,
                PRIMARY KEY (host, username, hash),
                FOREIGN KEY (host, username) REFERENCES accounts (host, username)
                    ON DELETE CASCADE ON UPDATE CASCADE
            ) WITHOUT ROWID;
            """),
    ]
}
