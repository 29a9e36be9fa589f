import Synchronization
import XMPPAddress

/// Blocklists kept in memory: for tests and ephemeral servers.
public final class InMemoryBlocklistStore: BlocklistStore {
    private let lists = Mutex<[JID: Set<JID>]>([:])

    public init() {}

    public func blockedJIDs(of user: JID) async throws -> [JID] {
        lists.withLock { ($0[user.bare] ?? []).sorted { $0.description < $1.description } }
    }

    public func block(_ jids: [JID], for user: JID) async throws -> Int {
        lists.withLock { lists in
            var list = lists[user.bare] ?? []
            let before = list.count
            list.formUnion(jids)
            lists[user.bare] = list.isEmpty ? nil : list
            return list.count - before
        }
    }

    public func unblock(_ jids: [JID], for user: JID) async throws -> Int {
        lists.withLock { lists in
            guard var list = lists[user.bare] else { return 0 }
            let before = list.count
            list.subtract(jids)
            lists[user.bare] = list.isEmpty ? nil : list
            return before - list.count
        }
    }

    public func usersWithBlockedJIDs() async throws -> [JID] {
        lists.withLock { Array($0.keys) }
    }

    public func unblockAll(for user: JID) async throws -> Int {
        lists.withLock { $0.removeValue(forKey: user.bare)?.count ?? 0 }
    }
}
