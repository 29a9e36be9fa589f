import Synchronization
import XMPPXML

/// vCards kept in memory: for tests and ephemeral servers.
public final class InMemoryVCardStore: VCardStore {
    private struct Key: Hashable { var username: String; var host: String }
    private let vCards = Mutex<[Key: XElement]>([:])

    public init() {}

    public func vCard(username: String, host: String) async throws -> XElement? {
        vCards.withLock { $0[Key(username: username, host: host)] }
    }

    public func setVCard(_ vCard: XElement, username: String, host: String) async throws {
        vCards.withLock { $0[Key(username: username, host: host)] = vCard }
    }

    public func deleteVCard(username: String, host: String) async throws -> Bool {
        vCards.withLock { $0.removeValue(forKey: Key(username: username, host: host)) != nil }
    }
}
