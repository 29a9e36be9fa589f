import XMPPAddress

public enum BlocklistStoreError: Error, Equatable, Sendable {
    case backend(String)
}

/// Each account's blocked JIDs (XEP-0191), keyed by bare JID (a full JID is reduced to its bare JID).
/// Blocked JIDs are kept exactly as given (bare, full, domain or domain/resource), already normalised.
/// Implementations: `InMemoryBlocklistStore`, SQLite.
public protocol BlocklistStore: Sendable {
    /// The user's blocked JIDs, sorted by their string form.
    func blockedJIDs(of user: JID) async throws -> [JID]
    /// Adds JIDs to the user's list; ones already there are left alone. Returns how many were added.
    @discardableResult
    func block(_ jids: [JID], for user: JID) async throws -> Int
    /// Removes JIDs from the user's list. Returns how many were removed.
    @discardableResult
    func unblock(_ jids: [JID], for user: JID) async throws -> Int
    /// Empties the user's list. Returns how many JIDs were on it.
    @discardableResult
    func unblockAll(for user: JID) async throws -> Int
    /// Every user whose list is not empty, as bare JIDs in no particular order. Read once by the
    /// server, so that a stanza to an offline user who blocks nobody needs no read of the list.
    func usersWithBlockedJIDs() async throws -> [JID]
}
