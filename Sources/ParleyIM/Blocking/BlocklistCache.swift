import Synchronization
import XMPPAddress

/// The blocklists of online users, so that checking a stanza needs no storage I/O.
///
/// A user is tracked from the binding of a session until the last one closes. A tracked user's
/// list is nil while it is being (re)loaded; readers then ask the store. Each change to a list
/// bumps the user's generation, and a load commits only if no change happened while it read the
/// store, so the cache never keeps a list older than the store's.
final class BlocklistCache: Sendable {
    private struct Entry {
        var generation: UInt64 = 0
        var list: BlockedJIDs?
    }
    private let entries = Mutex<[JID: Entry]>([:])

    /// The cached list, or nil when the user is not tracked or the list is being loaded.
    func list(of user: JID) -> BlockedJIDs? {
        entries.withLock { $0[user]?.list }
    }

    /// Starts tracking a user (a session was bound); the list is loaded next.
    func track(_ user: JID) {
        entries.withLock { entries in
            if entries[user] == nil { entries[user] = Entry() }
        }
    }

    /// The list changed in the store: forget the cached copy until it is loaded again.
    func invalidate(_ user: JID) {
        entries.withLock { entries in
            guard entries[user] != nil else { return }
            entries[user]!.generation &+= 1
            entries[user]!.list = nil
        }
    }

    /// The generation a load of the user's list starts from, or nil when the user is not tracked.
    func generation(of user: JID) -> UInt64? {
        entries.withLock { $0[user]?.generation }
    }

    /// Keeps a loaded list if the user is still tracked and nothing changed since `generation`.
    /// Returns false when the load must be repeated.
    func commit(_ list: BlockedJIDs, for user: JID, loadedAt generation: UInt64) -> Bool {
        entries.withLock { entries in
            guard let entry = entries[user] else { return true }
            guard entry.generation == generation else { return false }
            entries[user]!.list = list
            return true
        }
    }

    /// Stops tracking a user when `isOffline` says so, checked under the cache's lock so that a
    /// session being bound at the same moment is not left untracked.
    func evict(_ user: JID, if isOffline: () -> Bool) {
        entries.withLock { entries in
            if isOffline() { entries[user] = nil }
        }
    }
}
