extension SQLiteVCardStore {
    /// The vCard schema. Append-only: see `SQLiteMigration`.
    /// No foreign key to `accounts`: the vCard module deletes a vCard when its account is deleted,
    /// and the accounts may live in another store.
    public static let migrations: [SQLiteMigration] = [
        SQLiteMigration("v1-vcards", sql: """
            CREATE TABLE vcards (
                host TEXT NOT NULL,
                username TEXT NOT NULL,
                vcard TEXT NOT NULL,
                PRIMARY KEY (host, username)
            ) WITHOUT ROWID;
            """),
    ]
}
