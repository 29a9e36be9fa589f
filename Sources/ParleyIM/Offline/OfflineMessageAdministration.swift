import ParleyStorage
import XMPPAddress

/// What operators do to offline messages (for the `parley` CLI): works on the store, no running server needed.
public struct OfflineMessageAdministration: Sendable {
    public let store: any OfflineStore

    public init(store: any OfflineStore) {
        self.store = store
    }

    /// How many messages wait for `user` (a bare JID).
    public func count(for user: JID) async throws -> Int {
        try await store.count(for: user.bare)
    }

    /// Deletes every message waiting for `user`; returns how many there were.
    @discardableResult
    public func deleteAll(for user: JID) async throws -> Int {
        try await store.removeAll(for: user.bare)
    }
}
