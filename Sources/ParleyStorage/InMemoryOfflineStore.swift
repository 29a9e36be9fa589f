import Synchronization
import XMPPAddress
import XMPPXML

/// Offline messages kept in memory: for tests and ephemeral servers.
public final class InMemoryOfflineStore: OfflineStore {
    private struct State {
        var nextID: Int64 = 1
        var messages: [JID: [OfflineMessage]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public func append(_ stanza: XElement, for user: JID, storedAt: Int64, limit: Int) async throws -> OfflineMessage? {
        state.withLock { state in
            let key = user.bare
            guard state.messages[key, default: []].count < limit else { return nil }
            let message = OfflineMessage(id: state.nextID, storedAt: storedAt, stanza: stanza)
            state.nextID += 1
            state.messages[key, default: []].append(message)
            return message
        }
    }

    public func messages(for user: JID, limit: Int?) async throws -> [OfflineMessage] {
        state.withLock { state in
            let all = state.messages[user.bare] ?? []
            guard let limit else { return all }
            return Array(all.prefix(max(limit, 0)))
        }
    }

    public func count(for user: JID) async throws -> Int {
        state.withLock { $0.messages[user.bare]?.count ?? 0 }
    }

    public func remove(ids: [Int64], for user: JID) async throws -> Int {
        let doomed = Set(ids)
        return state.withLock { state in
            let key = user.bare
            guard let all = state.messages[key] else { return 0 }
            let kept = all.filter { !doomed.contains($0.id) }
            state.messages[key] = kept.isEmpty ? nil : kept
            return all.count - kept.count
        }
    }

    public func removeAll(for user: JID) async throws -> Int {
        state.withLock { $0.messages.removeValue(forKey: user.bare)?.count ?? 0 }
    }
}
