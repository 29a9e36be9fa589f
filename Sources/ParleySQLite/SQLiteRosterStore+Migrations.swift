extension SQLiteRosterStore {
    /// The roster schema. Append-only: see `SQLiteMigration`.
    static let migrations: [SQLiteMigration] = [
        // Users and contacts are canonical bare JID strings (XMPPAddress normalises them), not foreign
        // keys to `accounts`: a roster outlives nothing, but remote contacts have no account row, and
        // the version counter deliberately survives account deletion (see `RosterStore.deleteRoster`).
        // `in_roster` = 0 marks a contact that only sent a request ("None + Pending In"): its item
        // columns are unused. `pending_in` is the stored subscribe stanza as XML text.
        SQLiteMigration("v1-roster", sql: """
            CREATE TABLE roster_versions (
                user_jid TEXT NOT NULL PRIMARY KEY,
                version INTEGER NOT NULL
            ) WITHOUT ROWID;

            CREATE TABLE roster_entries (
                user_jid TEXT NOT NULL,
                contact_jid TEXT NOT NULL,
                in_roster INTEGER NOT NULL CHECK (in_roster IN (0, 1)),
                name TEXT,
                subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
                ask_subscribe INTEGER NOT NULL CHECK (ask_subscribe IN (0, 1)),
                approved INTEGER NOT NULL CHECK (approved IN (0, 1)),
                pending_in TEXT,
                PRIMARY KEY (user_jid, contact_jid)
            ) WITHOUT ROWID;

            CREATE TABLE roster_groups (
                user_jid TEXT NOT NULL,
                contact_jid TEXT NOT NULL,
                position INTEGER NOT NULL,
                name TEXT NOT NULL,
                PRIMARY KEY (user_jid, contact_jid, position),
                FOREIGN KEY (user_jid, contact_jid) REFERENCES roster_entries (user_jid, contact_jid)
                    ON DELETE CASCADE ON UPDATE CASCADE
            ) WITHOUT ROWID;
            """),
    ]
}
