import Synchronization

/// Last activity kept in memory: for tests and ephemeral servers.
public final class InMemoryLastActivityStore: LastActivityStore {
    private struct Key: Hashable { var username: String; var host: String }
    private let records = Mutex<[Key: LastActivityRecord]>([:])

    public init() {}

    public func lastActivity(username: String, host: String) async throws -> LastActivityRecord? {
        records.withLock { $0[Key(username: username, host: host)] }
    }

    public func setLastActivity(_ record: LastActivityRecord, username: String, host: String) async throws {
        records.withLock { $0[Key(username: username, host: host)] = record }
    }

    public func deleteLastActivity(username: String, host: String) async throws -> Bool {
        records.withLock { $0.removeValue(forKey: Key(username: username, host: host)) != nil }
    }
}
