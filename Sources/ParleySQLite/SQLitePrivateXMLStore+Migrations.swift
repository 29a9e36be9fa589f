extension SQLitePrivateXMLStore {
    /// The private XML schema. Append-only: see `SQLiteMigration`.
    /// No foreign key to `accounts`: the module deletes an account's data when the account is deleted.
    public static let migrations: [SQLiteMigration] = [
        SQLiteMigration("v1-private-xml", sql: """
            CREATE TABLE private_xml (
                host TEXT NOT NULL,
                username TEXT NOT NULL,
                namespace TEXT NOT NULL,
                name TEXT NOT NULL,
                element TEXT NOT NULL,
                PRIMARY KEY (host, username, namespace, name)
            ) WITHOUT ROWID;
            """),
    ]
}
