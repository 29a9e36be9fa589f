import Synchronization
import Foundation
import GRDB

/// The embedded database: one SQLite file shared by every SQLite store of a server.
///
/// A file database is a GRDB `DatabasePool` in WAL mode: reads run concurrently with the single
/// writer, and a `parley` CLI command can open the same file while the server runs (each write waits
/// up to the busy timeout for the other process's write to finish). Opening applies every pending
/// migration from `SQLiteDatabase.migrations`.
public final class SQLiteDatabase: Sendable {
    /// How long a write waits for another connection to release the write lock before failing with `SQLITE_BUSY`.
    public static let defaultBusyTimeout: Duration = .seconds(5)

    /// The database file, or nil for an in-memory database.
    public let path: String?
    /// Shared by the stores in this module; GRDB does not appear in the public API.
    private let connection: any DatabaseWriter
    /// A read-only connection of its own for every read (see `read` and `readOneStatement`); nil in memory.
    private let directReaderConnection: DatabaseQueue?
    private let closed = Mutex(false)

    /// The connection(s). Throws once `close()` was called: GRDB does not guard a closed queue, and
    /// SQLite would be handed a dangling connection.
    var writer: any DatabaseWriter {
        get throws {
            if closed.withLock({ $0 }) { throw SQLiteDatabaseError.closed }
            return connection
        }
    }
    /// The read-only connection for reads, nil for an in-memory database. Throws
    /// once `close()` was called, as `writer` does.
    var directReader: DatabaseQueue? {
        get throws {
            if closed.withLock({ $0 }) { throw SQLiteDatabaseError.closed }
            return directReaderConnection
        }
    }
    private let migrator: DatabaseMigrator

    /// Opens (creating it and its parent directories if needed) the database file at `path` and migrates it.
    ///
    /// - Parameters:
    ///   - busyTimeout: see `defaultBusyTimeout`.
    ///   - migrations: what to apply; the server and CLI use the default. Tests pass a prefix to build
    ///     a database as an older version would have left it.
    /// - Throws: `SQLiteDatabaseError.schemaIsNewer` if the file was migrated by a newer version of Parley;
    ///   otherwise file-system or SQLite errors.
    public init(
        path: String,
        busyTimeout: Duration = SQLiteDatabase.defaultBusyTimeout,
        migrations: [SQLiteMigration] = SQLiteDatabase.migrations
    ) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try Self.restrictToOwner(path)
        let pool = try DatabasePool(path: path, configuration: Self.configuration(busyTimeout: busyTimeout))
        self.path = path
        self.connection = pool
        self.migrator = Self.migrator(migrations)
        try Self.migrate(pool, with: migrator, known: migrations)
        var readOnly = Self.configuration(busyTimeout: busyTimeout)
        readOnly.readonly = true
        readOnly.label = "parley.reads"
        directReaderConnection = try DatabaseQueue(path: path, configuration: readOnly)
    }

    /// The database holds every account's SCRAM keys: only the server's user may read it. A new file
    /// is created empty with mode 0600 (SQLite gives its -wal and -shm files the database's mode);
    /// one left more open by an older version is narrowed.
    private static func restrictToOwner(_ path: String) throws {
        let files = FileManager.default
        // O_EXCL: never replace a database another process (the CLI, a second server) just created.
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 {
            _ = Glibc.close(created)
            return
        }
        guard errno == EEXIST else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        for file in [path, path + "-wal", path + "-shm"] where files.fileExists(atPath: file) {
            try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }

    private init(inMemory queue: DatabaseQueue, migrations: [SQLiteMigration]) throws {
        self.path = nil
        self.connection = queue
        self.directReaderConnection = nil
        self.migrator = Self.migrator(migrations)
        try Self.migrate(queue, with: migrator, known: migrations)
    }

    /// A private, migrated database that lives as long as this object: for tests and ephemeral servers.
    ///
    /// It is a single-connection `DatabaseQueue` (a WAL pool needs a file), so reads are serialised
    /// with writes; everything else (schema, SQL, error mapping) is the same as on a file.
    public static func inMemory(migrations: [SQLiteMigration] = SQLiteDatabase.migrations) throws -> SQLiteDatabase {
        let queue = try DatabaseQueue(configuration: configuration(busyTimeout: defaultBusyTimeout))
        return try SQLiteDatabase(inMemory: queue, migrations: migrations)
    }

    /// The identifiers of the migrations recorded in the database, known ones in registration order.
    public func appliedMigrations() async throws -> [String] {
        try await writer.read { [migrator] db in try migrator.appliedMigrations(db) }
    }

    /// Closes every connection. Later calls on this database or its stores throw.
    /// Not required: connections also close when the last reference goes away.
    public func close() throws {
        let wasClosed = closed.withLock { state in
            defer { state = true }
            return state
        }
        if wasClosed { return }
        try directReaderConnection?.close()
        try connection.close()
    }

    private static func configuration(busyTimeout: Duration) -> Configuration {
        var configuration = Configuration()
        configuration.label = "parley"
        // Another process (the CLI next to the server) may hold the write lock. GRDB opens every write
        // transaction IMMEDIATE, so waiting for the lock is all it takes for writers not to collide.
        configuration.busyMode = .timeout(busyTimeout.timeInterval)
        // Defaults kept on purpose: foreign keys on (GRDB), synchronous = FULL (SQLite), so a committed
        // account survives a power loss, not only a crash.
        return configuration
    }

    private static func migrator(_ migrations: [SQLiteMigration]) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in migrations {
            migrator.registerMigration(migration.identifier, migrate: migration.migrate)
        }
        return migrator
    }

    /// Applies pending migrations; safe when several processes open a fresh file at the same moment.
    ///
    /// GRDB decides what is pending before it takes the write lock, so when two processes race, the
    /// loser re-runs a migration the winner has just committed and fails ("table … already exists").
    /// After such a failure, if the recorded migrations changed under us, start over from what is recorded.
    private static func migrate(
        _ writer: any DatabaseWriter, with migrator: DatabaseMigrator, known migrations: [SQLiteMigration]
    ) throws {
        let known = Set(migrations.map(\.identifier))
        var attempts = 0
        while true {
            let before = try writer.read { try migrator.appliedIdentifiers($0) }
            let unknown = before.subtracting(known)
            guard unknown.isEmpty else {
                throw SQLiteDatabaseError.schemaIsNewer(unknownMigrations: unknown.sorted())
            }
            do {
                try migrator.migrate(writer)
                return
            } catch {
                attempts += 1
                let after = try writer.read { try migrator.appliedIdentifiers($0) }
                guard after != before, attempts < 10 else { throw error }
            }
        }
    }
}

/// Failures of opening a `SQLiteDatabase` that are not plain SQLite errors.
public enum SQLiteDatabaseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file records migrations this build does not know: it was written by a newer Parley.
    /// Opening it anyway could corrupt data the newer schema relies on.
    case schemaIsNewer(unknownMigrations: [String])
    /// The database was closed; nothing more can be read or written through this instance.
    case closed

    public var description: String {
        switch self {
        case .closed:
            "the database is closed"
        case .schemaIsNewer(let unknown):
            "the database was migrated by a newer version of Parley (unknown migrations: \(unknown.joined(separator: ", ")))"
        }
    }
}

extension Duration {
    fileprivate var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
