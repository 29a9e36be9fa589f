import Synchronization
import XMPPXML

/// Private XML kept in memory: for tests and ephemeral servers.
public final class InMemoryPrivateXMLStore: PrivateXMLStore {
    private struct Account: Hashable { var username: String; var host: String }
    private struct Key: Hashable { var name: String; var namespace: String }
    private let accounts = Mutex<[Account: [Key: XElement]]>([:])

    public init() {}

    public func element(name: String, namespace: String, username: String, host: String) async throws -> XElement? {
        accounts.withLock { $0[Account(username: username, host: host)]?[Key(name: name, namespace: namespace)] }
    }

    public func store(_ elements: [XElement], username: String, host: String) async throws {
        guard !elements.isEmpty else { return }
        accounts.withLock { table in
            let account = Account(username: username, host: host)
            var stored = table[account] ?? [:]
            for element in elements { stored[Key(name: element.name, namespace: element.namespace)] = element }
            table[account] = stored
        }
    }

    public func deleteAll(username: String, host: String) async throws {
        _ = accounts.withLock { $0.removeValue(forKey: Account(username: username, host: host)) }
    }
}
