import XMPPAddress
import XMPPXML

/// A message kept for an account that had no session able to take it (XEP-0160).
public struct OfflineMessage: Sendable, Hashable {
    /// Assigned by the store, never reused, increasing in storage order: it orders a user's messages.
    public var id: Int64
    /// When it was stored, in milliseconds since 1970.
    public var storedAt: Int64
    /// The message as it will be delivered (with its XEP-0203 delay already added).
    public var stanza: XElement

    public init(id: Int64, storedAt: Int64, stanza: XElement) {
        self.id = id
        self.storedAt = storedAt
        self.stanza = stanza
    }
}

public enum OfflineStoreError: Error, Equatable, Sendable {
    case backend(String)
}

/// Offline messages per account, keyed by bare JID (the caller passes a normalised bare JID; a full
/// JID is reduced to its bare JID). Implementations: `InMemoryOfflineStore`, SQLite.
public protocol OfflineStore: Sendable {
    /// Stores a message for `user` unless the user already has `limit` or more stored; the check
    /// and the insert are one atomic step. Returns the stored message, or nil when the queue is full.
    func append(_ stanza: XElement, for user: JID, storedAt: Int64, limit: Int) async throws -> OfflineMessage?
    /// The user's messages, oldest first; at most `limit` of them when given.
    func messages(for user: JID, limit: Int?) async throws -> [OfflineMessage]
    func count(for user: JID) async throws -> Int
    /// Removes the user's messages with these ids (ids of other users' messages are ignored).
    /// Returns how many were removed.
    @discardableResult
    func remove(ids: [Int64], for user: JID) async throws -> Int
    /// Removes all of the user's messages; returns how many there were.
    @discardableResult
    func removeAll(for user: JID) async throws -> Int
}
