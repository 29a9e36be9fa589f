extension SQLiteDatabase {
    /// Every feature's migrations, registered in this one place, in the order a fresh database applies them.
    ///
    /// To add a feature: give its store a `static let migrations: [SQLiteMigration]` next to it
    /// (see `SQLiteAccountStore+Migrations.swift`) and append that list here. A feature's list is
    /// append-only; features are concatenated in dependency order (a feature whose tables reference
    /// another feature's tables comes after it). On an existing file GRDB runs whatever is missing,
    /// in this order, even when a feature gains a migration after a later feature's migrations shipped.
    public static let migrations: [SQLiteMigration] =
        SQLiteAccountStore.migrations
        + SQLiteRosterStore.migrations
        + SQLiteOfflineStore.migrations
        + SQLiteBlocklistStore.migrations
        + SQLiteVCardStore.migrations
        + SQLitePrivateXMLStore.migrations
        + SQLiteLastActivityStore.migrations
}
