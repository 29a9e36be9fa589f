import GRDB

/// A store's public error type, as the SQLite stores report failures in it.
///
/// Every store keeps its own error enum (`AccountStoreError`, `RosterStoreError`, ...); conforming it
/// here says how a SQLite failure becomes one, so the catching itself is written once, in
/// `SQLiteDatabase.read(mappingErrorsTo:_:)` and `write(mappingErrorsTo:_:)`.
protocol SQLiteStoreError: Error {
    /// Any failure: SQLite, GRDB, a closed database. The text names the SQL but not its arguments
    /// (GRDB keeps them private by default).
    static func backend(_ description: String) -> Self
    /// A PRIMARY KEY or UNIQUE constraint failed.
    static func duplicateKey(_ description: String) -> Self
}

extension SQLiteStoreError {
    /// Only a store whose contract has "already exists" tells a duplicate key from other failures.
    static func duplicateKey(_ description: String) -> Self { backend(description) }
}

extension SQLiteDatabase {
    /// Carries an error of any type out of a transaction untouched: thrown inside `write`, it rolls the
    /// transaction back and the caller gets `error` itself. For errors of a caller's own closure (the
    /// roster's update body), which are not the store's to translate.
    struct UnmappedError: Error {
        var error: any Error
    }

    /// Runs `body` in a read transaction; a failure reaches the caller as `StoreError` (see `mappingErrors`).
    ///
    /// Reads run synchronously on the caller's thread (an event loop, usually). A read is an indexed
    /// lookup in SQLite's page cache, tens of microseconds, and in WAL mode it never waits for a
    /// writer; GRDB's asynchronous read would instead hop to a reader queue and back, which cost more
    /// than the query and turned every login (about twenty roster and account reads) into a chain of
    /// thread switches. Writes stay asynchronous: they can wait for the write lock.
    ///
    /// On a file the transaction runs on `directReader` (see `readOneStatement`), a plain deferred
    /// transaction: the pool's read wraps the same transaction in `PRAGMA query_only` on and off and
    /// first checks `PRAGMA schema_version`, which cost about as much as the roster read at every
    /// login they were measured in.
    func read<T: Sendable, StoreError: SQLiteStoreError>(
        mappingErrorsTo _: StoreError.Type, _ body: @Sendable (Database) throws -> T
    ) async throws -> T {
        try await mappingErrors(to: StoreError.self) {
            guard let reader = try directReader else { return try writer.read(body) }
            return try reader.inDatabase { db in
                var result: T?
                try db.inTransaction(.deferred) {
                    result = try body(db)
                    return .commit
                }
                // inTransaction returns only after running the closure, which either set it or threw.
                return result!
            }
        }
    }

    /// For reads made of a single statement: run without a transaction, since one SELECT sees one
    /// consistent snapshot by itself, which saves the BEGIN and COMMIT a read transaction costs
    /// (a third of a one-row lookup). Synchronous, as `read` is.
    ///
    /// On a file they go to `directReader`, a read-only connection of their own: every read
    /// from GRDB's pool first runs `PRAGMA schema_version` (to refresh GRDB's schema cache, which
    /// these raw-SQL reads never use), and outside a transaction that is a second round of SQLite's
    /// file locks (`fcntl` calls, about five per round in WAL mode) for each lookup. A login makes
    /// about twenty of these lookups. The statements are SQLite's own prepared statements, which
    /// re-prepare themselves if a migration ever changed the schema under them.
    func readOneStatement<T: Sendable, StoreError: SQLiteStoreError>(
        mappingErrorsTo _: StoreError.Type, _ body: @Sendable (Database) throws -> T
    ) async throws -> T {
        try await mappingErrors(to: StoreError.self) {
            if let reader = try directReader { return try reader.inDatabase(body) }
            return try writer.unsafeRead(body)
        }
    }

    /// Runs `body` in a write transaction, rolled back if it throws; a failure reaches the caller as
    /// `StoreError` (see `mappingErrors`).
    func write<T: Sendable, StoreError: SQLiteStoreError>(
        mappingErrorsTo _: StoreError.Type, _ body: @Sendable (Database) throws -> T
    ) async throws -> T {
        try await mappingErrors(to: StoreError.self) { try await writer.write(body) }
    }

    /// Runs one statement in its own write transaction and returns how many rows it changed.
    @discardableResult
    func execute<StoreError: SQLiteStoreError>(
        _ sql: String, arguments: StatementArguments, mappingErrorsTo _: StoreError.Type
    ) async throws -> Int {
        try await execute(sql, forEach: [arguments], mappingErrorsTo: StoreError.self)
    }

    /// Runs `sql` once per argument list, all in one write transaction (so all or none of them take
    /// effect), and returns how many rows changed. With no argument lists there is nothing to run and
    /// the database is not touched: an empty batch returns 0 even on a closed database.
    @discardableResult
    func execute<StoreError: SQLiteStoreError>(
        _ sql: String, forEach argumentLists: [StatementArguments], mappingErrorsTo _: StoreError.Type
    ) async throws -> Int {
        guard !argumentLists.isEmpty else { return 0 }
        return try await write(mappingErrorsTo: StoreError.self) { db in
            try db.changes(executing: sql, forEach: argumentLists)
        }
    }

    /// The one translation of failures into a store's error type. Passed through unchanged: the
    /// store's own errors (thrown inside a transaction to roll it back, or about a row it cannot
    /// read), `UnmappedError`'s payload, and task cancellation, so callers can tell it from a broken
    /// database. Anything else (accessing `writer` after `close()` included) becomes `StoreError`.
    private func mappingErrors<T, StoreError: SQLiteStoreError>(
        to _: StoreError.Type, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch let error as UnmappedError {
            throw error.error
        } catch let error as StoreError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch let error as DatabaseError
            where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
            || error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
        {
            throw StoreError.duplicateKey(String(describing: error))
        } catch {
            throw StoreError.backend(String(describing: error))
        }
    }
}

extension Database {
    /// Runs `sql` once per argument list through one cached statement, in the caller's transaction,
    /// and returns how many rows changed in all (a row an `ON CONFLICT DO NOTHING` skips does not count).
    @discardableResult
    func changes(executing sql: String, forEach argumentLists: [StatementArguments]) throws -> Int {
        let statement = try cachedStatement(sql: sql)
        var changed = 0
        for arguments in argumentLists {
            try statement.execute(arguments: arguments)
            changed += changesCount
        }
        return changed
    }
}
