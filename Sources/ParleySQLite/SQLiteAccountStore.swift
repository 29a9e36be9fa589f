import Foundation
import GRDB
import ParleyStorage
import XMPPSASL

/// Accounts in the `accounts` and `account_credentials` tables of a `SQLiteDatabase`.
///
/// Credentials come back in `SCRAMHash.allCases` order whatever order they were given in; one
/// credential is kept per hash (the first given). A stored hash this build does not know is skipped.
public final class SQLiteAccountStore: AccountStore {
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase) {
        self.database = database
    }

    public func create(_ account: AccountRecord) async throws {
        try await database.write(mappingErrorsTo: AccountStoreError.self) { db in
            try db.execute(
                sql: "INSERT INTO accounts (host, username, created_at) VALUES (?, ?, ?)",
                arguments: [account.host, account.username, account.createdAt])
            try Self.insertCredentials(account.credentials, username: account.username, host: account.host, db)
        }
    }

    public func account(username: String, host: String) async throws -> AccountRecord? {
        // One statement (so no read transaction is needed): the account's row joined with each of
        // its credentials; an account without credentials comes back as one row of NULLs for them.
        try await database.readOneStatement(mappingErrorsTo: AccountStoreError.self) { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(
                sql: """
                    SELECT c.hash, c.salt, c.iterations, c.stored_key, c.server_key, a.created_at
                    FROM accounts a LEFT JOIN account_credentials c ON c.host = a.host AND c.username = a.username
                    WHERE a.host = ? AND a.username = ?
                    """),
                arguments: [host, username])
            guard let first = rows.first else { return nil }
            let createdAt: Int64 = first[5]
            let credentials = try rows.filter { !$0.hasNull(atIndex: 0) }.compactMap(Self.credential(from:))
                .sorted { Self.order($0.hash) < Self.order($1.hash) }
            return AccountRecord(username: username, host: host, credentials: credentials, createdAt: createdAt)
        }
    }

    public func exists(username: String, host: String) async throws -> Bool {
        try await database.readOneStatement(mappingErrorsTo: AccountStoreError.self) { db in
            try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM accounts WHERE host = ? AND username = ?)"),
                arguments: [host, username]) ?? false
        }
    }

    public func setCredentials(username: String, host: String, credentials: [SCRAMCredential]) async throws {
        try await database.write(mappingErrorsTo: AccountStoreError.self) { db in
            let exists = try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM accounts WHERE host = ? AND username = ?)"),
                arguments: [host, username]) ?? false
            // Thrown inside the transaction, so nothing is written; it reaches the caller unchanged.
            guard exists else { throw AccountStoreError.notFound }
            try db.execute(
                sql: "DELETE FROM account_credentials WHERE host = ? AND username = ?",
                arguments: [host, username])
            try Self.insertCredentials(credentials, username: username, host: host, db)
        }
    }

    @discardableResult
    public func delete(username: String, host: String) async throws -> Bool {
        // Credentials go with it: ON DELETE CASCADE (GRDB turns foreign keys on).
        try await database.execute(
            "DELETE FROM accounts WHERE host = ? AND username = ?", arguments: [host, username],
            mappingErrorsTo: AccountStoreError.self) > 0
    }

    public func usernames(host: String) async throws -> [String] {
        let names = try await database.readOneStatement(mappingErrorsTo: AccountStoreError.self) { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT username FROM accounts WHERE host = ?"), arguments: [host])
        }
        // Sorted in Swift, not by ORDER BY, so every backend agrees on `String` ordering.
        return names.sorted()
    }

    public func createMany(_ accounts: [AccountRecord]) async throws -> Int {
        try await database.write(mappingErrorsTo: AccountStoreError.self) { db in
            // One transaction and one prepared statement for the whole import: thousands of rows per second.
            let insertAccount = try db.cachedStatement(sql: """
                INSERT INTO accounts (host, username, created_at) VALUES (?, ?, ?)
                ON CONFLICT (host, username) DO NOTHING
                """)
            var created = 0
            for account in accounts {
                try insertAccount.execute(arguments: [account.host, account.username, account.createdAt])
                guard db.changesCount > 0 else { continue }  // existing account: skipped, credentials untouched
                try Self.insertCredentials(account.credentials, username: account.username, host: account.host, db)
                created += 1
            }
            return created
        }
    }

    // MARK: - Rows

    private static func insertCredentials(
        _ credentials: [SCRAMCredential], username: String, host: String, _ db: Database
    ) throws {
        // COALESCE: GRDB binds an empty `Data` as NULL (SQLite's rule for a NULL pointer), and the
        // columns are NOT NULL; an empty byte string must still round-trip.
        // DO NOTHING: a second credential for the same hash is ignored, as `credential(for:)` would.
        try db.changes(
            executing: """
                INSERT INTO account_credentials (host, username, hash, salt, iterations, stored_key, server_key)
                VALUES (?, ?, ?, COALESCE(?, x''), ?, COALESCE(?, x''), COALESCE(?, x''))
                ON CONFLICT (host, username, hash) DO NOTHING
                """,
            forEach: credentials.map { credential in
                [
                    host, username, credential.hash.rawValue,
                    Data(credential.salt), credential.iterations,
                    Data(credential.storedKey), Data(credential.serverKey),
                ]
            })
    }

    /// Reads the columns hash, salt, iterations, stored_key, server_key, by position (named
    /// lookups lower-case the name on every access).
    private static func credential(from row: Row) throws -> SCRAMCredential? {
        guard let hash = SCRAMHash(rawValue: row[0]) else { return nil }
        let salt: Data = row[1]
        let storedKey: Data = row[3]
        let serverKey: Data = row[4]
        return SCRAMCredential(
            hash: hash, salt: [UInt8](salt), iterations: row[2],
            storedKey: [UInt8](storedKey), serverKey: [UInt8](serverKey))
    }

    private static func order(_ hash: SCRAMHash) -> Int {
        SCRAMHash.allCases.firstIndex(of: hash) ?? Int.max
    }
}

/// A second account under the same host and username fails the primary key: that is `.alreadyExists`.
extension AccountStoreError: SQLiteStoreError {
    static func duplicateKey(_ description: String) -> Self { .alreadyExists }
}
