import Synchronization
import XMPPAddress

/// Which users have a blocklist at all, so that a stanza to an offline user who blocks nobody
/// (nearly every user) needs no read of the store: without it, each presence broadcast and probe a
/// login sends to an offline contact read that contact's (empty) list, about twenty reads a login.
///
/// Loaded once from the store (`BlocklistStore.usersWithBlockedJIDs`). Until then, and if loading
/// fails, nothing is known and lists are read as before. The server is the only writer of
/// blocklists, and it marks a user here before storing a block, so a user missing from a loaded set
/// has an empty list. Users are never removed when they unblock: a stale entry costs one read of an
/// empty list, never a wrong answer.
final class BlocklistOwners: Sendable {
    private struct State {
        var loaded = false
        var loading = false
        var owners: Set<JID> = []
    }
    private let state = Mutex(State())

    /// True when the owners are known and `user` (a bare JID) is not one of them.
    func certainlyHasNoList(_ user: JID) -> Bool {
        check(user, mayLoad: false) == .noList
    }

    /// Called before a block is stored: from now on the user may have a list.
    func mayHaveList(_ user: JID) {
        _ = state.withLock { $0.owners.insert(user) }
    }

    enum Answer {
        /// `user` certainly has an empty list.
        case noList
        /// `user` may have a list, or the owners are not known yet (being loaded, or loading failed).
        case mayHaveList
        /// Nobody has loaded the owners yet: the caller should, then ask again.
        case loadFirst
    }

    /// Whether `user` (a bare JID) may have a list. With `mayLoad`, the first caller is told to load
    /// the owners (and is not told again after a failure, until it asks with `mayLoad` once more).
    func check(_ user: JID, mayLoad: Bool = true) -> Answer {
        state.withLock { state in
            if state.loaded { return state.owners.isEmpty || !state.owners.contains(user) ? .noList : .mayHaveList }
            guard mayLoad, !state.loading else { return .mayHaveList }
            state.loading = true
            return .loadFirst
        }
    }

    /// Keeps what the store holds, together with everyone marked while it was being read.
    func finishLoading(_ users: [JID]) {
        state.withLock { state in
            state.owners.formUnion(users)
            state.loaded = true
            state.loading = false
        }
    }

    /// Loading failed: the next caller tries again.
    func loadingFailed() {
        state.withLock { $0.loading = false }
    }
}
