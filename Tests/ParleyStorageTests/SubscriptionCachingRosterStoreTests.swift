import ParleyStorage
import Synchronization
import Testing
import XMPPAddress

/// The cache in front of a roster store answers from memory what it read before, and never what a
/// write has changed since.
@Suite("Roster subscription cache")
struct SubscriptionCachingRosterStoreTests {
    let alice = RosterStoreConformance.alice
    let bob = RosterStoreConformance.bob
    let carol = RosterStoreConformance.carol

    /// Counts the subscription reads that reach the store behind the cache, and can hold one until
    /// the test lets it go.
    final class CountingStore: RosterStore, @unchecked Sendable {
        let backing = InMemoryRosterStore()
        let listReads = Atomic<Int>(0)
        let itemReads = Atomic<Int>(0)
        /// Set: the next list read has read the rows and waits for `release` before answering.
        let held = Mutex<(reached: CheckedContinuation<Void, Never>?, release: CheckedContinuation<Void, Never>?)?>(nil)

        func subscriptions(of user: JID) async throws -> [ContactSubscription] {
            listReads.add(1, ordering: .relaxed)
            let rows = try await backing.subscriptions(of: user)
            await waitIfHeld()
            return rows
        }

        private func waitIfHeld() async {
            if let reached = held.withLock({ $0?.reached }) {
                await withCheckedContinuation { release in
                    held.withLock { $0 = (nil, release) }
                    reached.resume()
                }
            }
        }

        func subscription(of user: JID, contact: JID) async throws -> RosterSubscription? {
            itemReads.add(1, ordering: .relaxed)
            return try await backing.subscription(of: user, contact: contact)
        }

        func roster(of user: JID) async throws -> Roster {
            let roster = try await backing.roster(of: user)
            await waitIfHeld()
            return roster
        }
        func entry(of user: JID, contact: JID) async throws -> RosterEntry { try await backing.entry(of: user, contact: contact) }
        func pendingRequests(of user: JID) async throws -> [RosterEntry] { try await backing.pendingRequests(of: user) }
        func update<Result: Sendable>(
            user: JID, contact: JID, _ body: @escaping @Sendable (inout RosterEntry) throws -> Result
        ) async throws -> RosterChange<Result> {
            try await backing.update(user: user, contact: contact, body)
        }
        func deleteRoster(of user: JID) async throws { try await backing.deleteRoster(of: user) }
    }

    func subscribe(_ store: any RosterStore, _ user: JID, to contact: JID, _ subscription: RosterSubscription) async throws {
        try await store.update(user: user, contact: contact) { $0.item = RosterItem(jid: contact, subscription: subscription) }
    }

    @Test func aListIsReadOnceAndItsItemsAreAnsweredFromIt() async throws {
        let backing = CountingStore()
        let cache = SubscriptionCachingRosterStore(backing: backing)
        try await subscribe(cache, alice, to: bob, .both)
        try await subscribe(cache, alice, to: carol, .to)

        let expected: Set = [ContactSubscription(jid: bob, subscription: .both), ContactSubscription(jid: carol, subscription: .to)]
        #expect(Set(try await cache.subscriptions(of: alice)) == expected)
        #expect(Set(try await cache.subscriptions(of: try JID("alice@example.com/phone"))) == expected, "keyed by the bare JID")
        #expect(backing.listReads.load(ordering: .relaxed) == 1)

        #expect(try await cache.subscription(of: alice, contact: try JID("bob@example.com/laptop")) == .both)
        #expect(try await cache.subscription(of: alice, contact: try JID("dave@example.com")) == nil)
        #expect(backing.itemReads.load(ordering: .relaxed) == 0, "answered from the kept list")

        try await subscribe(backing, bob, to: carol, .from)
        #expect(try await cache.subscription(of: bob, contact: alice) == nil)
        #expect(try await cache.subscription(of: bob, contact: carol) == .from)
        #expect(backing.itemReads.load(ordering: .relaxed) == 0)
        #expect(backing.listReads.load(ordering: .relaxed) == 2, "a probed user without a kept list has it read once")
        #expect(cache.count == 2)

        // Probes of addresses without roster items (no account, say) keep nothing.
        let nobody = try JID("nobody@example.com")
        #expect(try await cache.subscription(of: nobody, contact: alice) == nil)
        #expect(try await cache.subscription(of: nobody, contact: bob) == nil)
        #expect(backing.listReads.load(ordering: .relaxed) == 4)
        #expect(cache.count == 2)
    }

    /// Kept lists share one copy of a contact's address: compared by where the string's bytes are.
    @Test func keptListsShareTheirContactsAddresses() async throws {
        let cache = SubscriptionCachingRosterStore(backing: InMemoryRosterStore())
        let contact = try JID("someone-with-a-long-name@example.com")
        try await subscribe(cache, alice, to: contact, .both)
        try await subscribe(cache, bob, to: contact, .from)
        func storage(_ list: [ContactSubscription]) throws -> UnsafeRawPointer {
            let address = try #require(list.first { $0.jid == contact }?.address)
            #expect(address == contact.description)
            return try #require(address.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress!) })
        }
        for user in [alice, bob] { _ = try await cache.subscriptions(of: user) }  // read and kept
        let fromAlice = try storage(try await cache.subscriptions(of: alice))
        let fromBob = try storage(try await cache.subscriptions(of: bob))
        #expect(fromAlice == fromBob)
        #expect(try await cache.subscription(of: bob, contact: contact) == .from)
    }

    /// A login reads the roster and then, for its initial presence, the list: the second is kept
    /// from the first.
    @Test func aRosterReadKeepsTheList() async throws {
        let backing = CountingStore()
        let cache = SubscriptionCachingRosterStore(backing: backing)
        try await subscribe(cache, alice, to: bob, .both)
        try await subscribe(cache, alice, to: carol, .from)

        let roster = try await cache.roster(of: try JID("alice@example.com/phone"))
        #expect(roster.items.map(\.jid) == [bob, carol])
        #expect(Set(try await cache.subscriptions(of: alice))
            == [ContactSubscription(jid: bob, subscription: .both), ContactSubscription(jid: carol, subscription: .from)])
        #expect(try await cache.subscription(of: alice, contact: carol) == .from)
        #expect(backing.listReads.load(ordering: .relaxed) == 0, "answered from the list the roster read kept")

        try await subscribe(cache, alice, to: carol, .both)
        _ = try await cache.roster(of: alice)
        #expect(try await cache.subscription(of: alice, contact: carol) == .both, "kept afresh after the write")
        #expect(backing.listReads.load(ordering: .relaxed) == 0)
    }

    @Test func everyWriteDropsTheWritersList() async throws {
        let backing = CountingStore()
        let cache = SubscriptionCachingRosterStore(backing: backing)
        try await subscribe(cache, alice, to: bob, .to)
        _ = try await cache.subscriptions(of: alice)

        try await subscribe(cache, alice, to: bob, .both)
        #expect(try await cache.subscription(of: alice, contact: bob) == .both)
        #expect(try await cache.subscriptions(of: alice) == [ContactSubscription(jid: bob, subscription: .both)])

        try await cache.makeMutualContacts(alice, carol)
        #expect(try await cache.subscription(of: alice, contact: carol) == .both)

        try await cache.update(user: alice, contact: bob) { $0.item = nil }
        #expect(try await cache.subscription(of: alice, contact: bob) == nil)

        try await cache.deleteRoster(of: alice)
        #expect(try await cache.subscriptions(of: alice).isEmpty)

        struct Refused: Error {}
        _ = try await cache.subscriptions(of: alice)
        let readsBefore = backing.listReads.load(ordering: .relaxed)
        await #expect(throws: Refused.self) { try await cache.update(user: alice, contact: bob) { _ in throw Refused() } }
        _ = try await cache.subscriptions(of: alice)
        #expect(backing.listReads.load(ordering: .relaxed) == readsBefore + 1, "dropped even when the write failed")
    }

    /// A change written behind the cache's back (the CLI's process) shows once it is reported.
    @Test func anOutsideChangeShowsOnceReported() async throws {
        let backing = CountingStore()
        let cache = SubscriptionCachingRosterStore(backing: backing)
        #expect(try await cache.subscriptions(of: alice).isEmpty)
        try await subscribe(backing, alice, to: bob, .both)
        #expect(try await cache.subscriptions(of: alice).isEmpty, "not reported yet")
        cache.invalidate(alice)
        #expect(try await cache.subscriptions(of: alice) == [ContactSubscription(jid: bob, subscription: .both)])

        try await subscribe(backing, alice, to: carol, .from)
        _ = try await cache.subscriptions(of: bob)
        cache.invalidate(nil)
        #expect(cache.count == 0)
        #expect(try await cache.subscription(of: alice, contact: carol) == .from)
    }

    /// A list read before a write finished, and returned after it, is not kept: the next read goes
    /// to the store and sees the write. The same holds for the list a roster read keeps.
    @Test(arguments: [false, true])
    func aListReadAcrossAWriteIsNotKept(throughTheRoster: Bool) async throws {
        let backing = CountingStore()
        let cache = SubscriptionCachingRosterStore(backing: backing)
        try await subscribe(cache, alice, to: bob, .to)

        var reader: Task<Void, any Error>?
        await withCheckedContinuation { reached in
            backing.held.withLock { $0 = (reached, nil) }
            reader = Task {
                if throughTheRoster {
                    let roster = try await cache.roster(of: alice)
                    #expect(roster.items == [RosterItem(jid: bob, subscription: .to)], "read before the write")
                } else {
                    let list = try await cache.subscriptions(of: alice)
                    #expect(list == [ContactSubscription(jid: bob, subscription: .to)], "read before the write")
                }
            }
        }
        try await subscribe(cache, alice, to: bob, .both)
        let release = backing.held.withLock { held in
            defer { held = nil }
            return held?.release
        }
        release?.resume()
        try await reader?.value

        #expect(try await cache.subscriptions(of: alice) == [ContactSubscription(jid: bob, subscription: .both)])
        #expect(try await cache.subscription(of: alice, contact: bob) == .both)
    }

    @Test func itKeepsAtMostItsCapacity() async throws {
        let backing = CountingStore()
        let cache = SubscriptionCachingRosterStore(backing: backing, capacity: 3)
        let users = try (0..<10).map { try JID("user\($0)@example.com") }
        for user in users {
            try await subscribe(cache, user, to: alice, .both)
            _ = try await cache.subscriptions(of: user)
            #expect(cache.count <= 3)
        }
        // Dropped and read again many times without evictions: still bounded, still right.
        for round in 0..<50 {
            let user = users[round % 2]
            try await subscribe(cache, user, to: bob, round % 4 < 2 ? .to : .both)
            #expect(try await cache.subscription(of: user, contact: bob) == (round % 4 < 2 ? .to : .both))
            #expect(try await cache.subscriptions(of: user).count == 2)
            #expect(cache.count <= 3)
        }
        #expect(Set(try await cache.subscriptions(of: users[9])) == [ContactSubscription(jid: alice, subscription: .both)])
    }

    /// The whole roster contract holds through the cache, with a capacity small enough to evict.
    @Test(arguments: StoreBackend.allCases)
    func theRosterContractHoldsThroughTheCache(_ backend: StoreBackend) async throws {
        let cases: [(any RosterStore) async throws -> Void] = [
            RosterStoreConformance.emptyRoster, RosterStoreConformance.itemLifecycleBumpsTheVersion,
            RosterStoreConformance.everyFieldRoundTrips, RosterStoreConformance.pendingRequestsAreNotItems,
            RosterStoreConformance.usersAreSeparateAndKeyedByBareJID, RosterStoreConformance.aThrowingBodyChangesNothing,
            RosterStoreConformance.concurrentUpdatesAreAtomic, RosterStoreConformance.deletingARosterKeepsTheVersionGrowing,
            RosterStoreConformance.makeMutualContacts,
        ]
        for body in cases {
            try await backend.withRosterStore { store in
                try await body(SubscriptionCachingRosterStore(backing: store, capacity: 1))
            }
        }
    }
}
