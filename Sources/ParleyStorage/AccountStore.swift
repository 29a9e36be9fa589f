import XMPPSASL

/// One account on one host. Credentials are SCRAM keys per hash; the password itself is never kept.
public struct AccountRecord: Sendable, Hashable {
    /// Localpart, already normalised (PRECIS UsernameCaseMapped).
    public var username: String
    /// Domainpart of the hosting virtual host, already normalised.
    public var host: String
    public var credentials: [SCRAMCredential]
    /// Seconds since 1970.
    public var createdAt: Int64

    public init(username: String, host: String, credentials: [SCRAMCredential], createdAt: Int64) {
        self.username = username
        self.host = host
        self.credentials = credentials
        self.createdAt = createdAt
    }

    public func credential(for hash: SCRAMHash) -> SCRAMCredential? {
        credentials.first { $0.hash == hash }
    }
}

public enum AccountStoreError: Error, Equatable, Sendable {
    case alreadyExists
    case notFound
    case backend(String)
}

extension AccountStore {
    public func exists(username: String, host: String) async throws -> Bool {
        try await account(username: username, host: host) != nil
    }
}

/// Accounts per virtual host. Implementations: `InMemoryAccountStore` (tests), SQLite (default).
public protocol AccountStore: Sendable {
    /// Creates the account; throws `.alreadyExists` if the username is taken on that host.
    func create(_ account: AccountRecord) async throws
    func account(username: String, host: String) async throws -> AccountRecord?
    /// Whether the account exists, without reading its credentials: what routing asks about
    /// offline users (probes, messages to bare JIDs), far more often than anyone logs in.
    func exists(username: String, host: String) async throws -> Bool
    /// Replaces all credentials (password change); throws `.notFound`.
    func setCredentials(username: String, host: String, credentials: [SCRAMCredential]) async throws
    /// Returns whether an account was removed.
    @discardableResult
    func delete(username: String, host: String) async throws -> Bool
    /// Usernames on a host, sorted.
    func usernames(host: String) async throws -> [String]
    /// Creates many accounts in one transaction; existing ones are skipped. Returns how many were created.
    func createMany(_ accounts: [AccountRecord]) async throws -> Int
}
