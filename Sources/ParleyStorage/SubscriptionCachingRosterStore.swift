import Synchronization
import XMPPAddress

/// A roster store that keeps the subscription lists (`subscriptions(of:)`) of recently active users
/// in memory, in front of another store.
///
/// Every presence broadcast reads its sender's list, and every probe answer one item of the probed
/// contact's, so an online user's list is read over and over while it rarely changes; ejabberd and
/// Prosody keep online users' rosters in memory for the same reason (Prosody also keeps the rosters
/// of recently probed offline users). A list is kept when it is read, when the user's roster is read
/// (a login's roster get, just before its initial presence reads the list), and when a probe asks
/// for an item of a user without a kept list and the list read has items: a login probes each of
/// its contacts, and the other contacts of an offline user probe it in turn when they log in. The
/// cache holds at most
/// `capacity` lists (the oldest goes first), so its memory is bounded whatever the number of
/// sessions: about 1.5 KB for a list of twenty contacts, plus each contact's address as a string
/// when it is longer than 15 bytes (see `ContactSubscription`). Those strings are shared: a contact
/// in the lists of many kept users (people on one server tend to have each other in their rosters)
/// has one copy of its address, not one per list. With 20 mutual contacts per user and 4096 lists
/// kept, that is 6 MB less resident memory (`bench/profile login --users 5000`: 8.3 to 7.1 KB per
/// idle session).
///
/// Coherence: every write made through this store drops the user's list once it has finished, and
/// a list read from the backing store is kept only if no write finished while it was being read.
/// Writes made by another process (the `parley` CLI) reach a running server as an explicit
/// `invalidate` through the admin socket.
public final class SubscriptionCachingRosterStore: RosterStore {
    public let backing: any RosterStore
    public let capacity: Int
    private let state: Mutex<State>

    private struct State {
        var lists: [JID: [ContactSubscription]] = [:]
        /// Users in the order their lists were kept, oldest first from `oldest`. A user whose list
        /// was dropped meanwhile leaves a stale place: at its turn nothing is evicted, or, when the
        /// user's list was kept again since, that list goes early (never late).
        var order: [JID] = []
        var oldest = 0
        /// Bumped by every write and invalidation: a read that began before one is not kept.
        var generation: UInt64 = 0
        /// One copy of each address in the kept lists (see the type's comment); emptied when it
        /// holds more than `capacity * 32` addresses, which only ends the sharing of what is kept.
        var addresses: Set<String> = []
    }

    public init(backing: any RosterStore, capacity: Int = 4096) {
        self.backing = backing
        self.capacity = max(1, capacity)
        self.state = Mutex(State())
    }

    /// How many lists are held.
    public var count: Int { state.withLock { $0.lists.count } }

    /// Drops what is kept for `user` (all users when nil): for changes made outside this store.
    public func invalidate(_ user: JID?) {
        state.withLock { state in
            state.generation &+= 1
            if let user {
                state.lists[user.bare] = nil
            } else {
                state.lists.removeAll()
                state.order.removeAll()
                state.oldest = 0
                state.addresses.removeAll()
            }
        }
    }

    public func subscriptions(of user: JID) async throws -> [ContactSubscription] {
        let user = user.bare
        let (cached, generation) = state.withLock { ($0.lists[user], $0.generation) }
        if let cached { return cached }
        let fresh = try await backing.subscriptions(of: user)
        keep(fresh, for: user, readAt: generation)
        return fresh
    }

    /// Answered from the user's kept list; without one, the list is read and kept. An empty list is
    /// not kept here: probes come from other servers too, and one for each of many addresses
    /// without an account would otherwise push real users' lists out of the cache.
    public func subscription(of user: JID, contact: JID) async throws -> RosterSubscription? {
        let user = user.bare, contact = contact.bare
        let (cached, generation) = state.withLock { ($0.lists[user], $0.generation) }
        let list: [ContactSubscription]
        if let cached {
            list = cached
        } else {
            list = try await backing.subscriptions(of: user)
            if !list.isEmpty { keep(list, for: user, readAt: generation) }
        }
        return list.first { $0.jid == contact }?.subscription
    }

    /// Read from the backing store every time (the cache keeps no names, groups or versions); the
    /// user's list is kept from it when none is.
    public func roster(of user: JID) async throws -> Roster {
        let user = user.bare
        let (isKept, generation) = state.withLock { ($0.lists[user] != nil, $0.generation) }
        let roster = try await backing.roster(of: user)
        if !isKept {
            keep(roster.items.map { ContactSubscription(jid: $0.jid, subscription: $0.subscription) },
                 for: user, readAt: generation)
        }
        return roster
    }

    public func entry(of user: JID, contact: JID) async throws -> RosterEntry {
        try await backing.entry(of: user, contact: contact)
    }

    public func pendingRequests(of user: JID) async throws -> [RosterEntry] {
        try await backing.pendingRequests(of: user)
    }

    @discardableResult
    public func update<Result: Sendable>(
        user: JID, contact: JID, _ body: @escaping @Sendable (inout RosterEntry) throws -> Result
    ) async throws -> RosterChange<Result> {
        // Dropped also when the write fails: whether it was applied may be unknown.
        defer { invalidate(user) }
        return try await backing.update(user: user, contact: contact, body)
    }

    public func deleteRoster(of user: JID) async throws {
        defer { invalidate(user) }
        try await backing.deleteRoster(of: user)
    }

    /// Keeps `list`, read for `user` when the generation was `generation`, unless a write finished
    /// since (it may be missing from the list) or another read kept one meanwhile.
    private func keep(_ list: [ContactSubscription], for user: JID, readAt generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation, state.lists[user] == nil else { return }
            Self.keep(list, for: user, in: &state, capacity: capacity)
        }
    }

    private static func keep(_ list: [ContactSubscription], for user: JID, in state: inout State, capacity: Int) {
        while state.lists.count >= capacity, state.oldest < state.order.count {
            state.lists[state.order[state.oldest]] = nil
            state.oldest += 1
        }
        if state.addresses.count > capacity * 32 { state.addresses.removeAll() }
        // A copy of exactly its size: a list built by appending keeps up to twice its length.
        state.lists[user] = Array(unsafeUninitializedCapacity: list.count) { buffer, initialized in
            for (index, item) in list.enumerated() {
                let address = state.addresses.insert(item.address).memberAfterInsert
                (buffer.baseAddress! + index).initialize(to: ContactSubscription(jid: item.jid, subscription: item.subscription, address: address))
            }
            initialized = list.count
        }
        state.order.append(user)
        // Dropped and re-kept users leave stale places behind; without evictions nothing would
        // consume them, so the order is rebuilt from the kept lists once it is twice the capacity.
        if state.order.count - state.oldest >= 2 * capacity {
            var seen = Set<JID>()
            var newestFirst: [JID] = []
            for kept in state.order[state.oldest...].reversed() where state.lists[kept] != nil && seen.insert(kept).inserted {
                newestFirst.append(kept)
            }
            state.order = newestFirst.reversed()
            state.oldest = 0
        } else if state.oldest >= capacity {
            state.order.removeFirst(state.oldest)
            state.oldest = 0
        }
    }
}
