public enum LastActivityStoreError: Error, Equatable, Sendable {
    case backend(String)
}

/// When an account's last session ended, and the status it left with (XEP-0012 §3).
public struct LastActivityRecord: Sendable, Hashable {
    /// Seconds since 1970.
    public var timestamp: Int64
    /// The `<status/>` of the last unavailable presence, "" if it had none.
    public var status: String

    public init(timestamp: Int64, status: String) {
        self.timestamp = timestamp
        self.status = status
    }
}

/// Last logout per account. Implementations: `InMemoryLastActivityStore` (tests), SQLite (default).
public protocol LastActivityStore: Sendable {
    func lastActivity(username: String, host: String) async throws -> LastActivityRecord?
    /// Replaces the account's record.
    func setLastActivity(_ record: LastActivityRecord, username: String, host: String) async throws
    /// Returns whether a record was removed.
    @discardableResult
    func deleteLastActivity(username: String, host: String) async throws -> Bool
}
