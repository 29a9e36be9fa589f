import Synchronization
import XMPPSASL

/// Accounts kept in memory: for tests and ephemeral servers.
public final class InMemoryAccountStore: AccountStore {
    private struct Key: Hashable { var username: String; var host: String }
    private let accounts = Mutex<[Key: AccountRecord]>([:])

    public init() {}

    public func create(_ account: AccountRecord) async throws {
        try accounts.withLock { table in
            let key = Key(username: account.username, host: account.host)
            guard table[key] == nil else { throw AccountStoreError.alreadyExists }
            table[key] = account
        }
    }

    public func account(username: String, host: String) async throws -> AccountRecord? {
        accounts.withLock { $0[Key(username: username, host: host)] }
    }

    public func setCredentials(username: String, host: String, credentials: [SCRAMCredential]) async throws {
        try accounts.withLock { table in
            let key = Key(username: username, host: host)
            guard table[key] != nil else { throw AccountStoreError.notFound }
            table[key]!.credentials = credentials
        }
    }

    public func delete(username: String, host: String) async throws -> Bool {
        accounts.withLock { $0.removeValue(forKey: Key(username: username, host: host)) != nil }
    }

    public func usernames(host: String) async throws -> [String] {
        accounts.withLock { table in table.keys.filter { $0.host == host }.map(\.username).sorted() }
    }

    public func createMany(_ records: [AccountRecord]) async throws -> Int {
        accounts.withLock { table in
            var created = 0
            for record in records {
                let key = Key(username: record.username, host: record.host)
                if table[key] == nil { table[key] = record; created += 1 }
            }
            return created
        }
    }
}
