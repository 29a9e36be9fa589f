extension SQLiteLastActivityStore {
    /// The last-activity schema. Append-only: see `SQLiteMigration`.
    /// No foreign key to `accounts`: the module deletes the record when the account is deleted.
    public static let migrations: [SQLiteMigration] = [
        SQLiteMigration("v1-last-activity", sql: """
            CREATE TABLE last_activity (
                host TEXT NOT NULL,
                username TEXT NOT NULL,
                timestamp INTEGER NOT NULL,
                status TEXT NOT NULL,
                PRIMARY KEY (host, username)
            ) WITHOUT ROWID;
            """),
    ]
}
