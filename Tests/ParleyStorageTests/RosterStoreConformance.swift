import ParleyStorage
import Testing
import XMPPAddress
import XMPPXML

/// The `RosterStore` contract, written once against the protocol and run on every backend by
/// `RosterStoreConformanceTests`.
enum RosterStoreConformance {
    static let alice = jid("alice@example.com")
    static let bob = jid("bob@example.com")
    static let carol = jid("carol@example.org")

    static func emptyRoster(_ store: any RosterStore) async throws {
        let roster = try await store.roster(of: alice)
        #expect(roster.version == 0)
        #expect(roster.items.isEmpty)
        #expect(try await store.entry(of: alice, contact: bob) == RosterEntry(contact: bob))
        #expect(try await store.pendingRequests(of: alice).isEmpty)
    }

    static func itemLifecycleBumpsTheVersion(_ store: any RosterStore) async throws {
        let created = try await store.update(user: alice, contact: bob) { entry in
            entry.item = RosterItem(jid: entry.contact, name: "Bob", groups: ["Friends", "Work"])
        }
        #expect(created.itemChanged)
        #expect(created.before == RosterEntry(contact: bob))
        #expect(created.version == 1)
        #expect(try await store.roster(of: alice) == Roster(version: 1, items: [
            RosterItem(jid: bob, name: "Bob", groups: ["Friends", "Work"]),
        ]))

        // Writing the same item again changes nothing, so the version stays.
        let same = try await store.update(user: alice, contact: bob) { entry in
            entry.item?.groups = ["Friends", "Work"]
        }
        #expect(!same.itemChanged)
        #expect(same.version == 1)

        let renamed = try await store.update(user: alice, contact: bob) { entry in
            entry.item?.name = nil
            entry.item?.groups = ["Work"]
            entry.item?.subscription = .to
        }
        #expect(renamed.itemChanged)
        #expect(renamed.version == 2)
        #expect(renamed.after.item == RosterItem(jid: bob, subscription: .to, groups: ["Work"]))

        let removed = try await store.update(user: alice, contact: bob) { $0.item = nil }
        #expect(removed.version == 3)
        #expect(removed.after.isEmpty)
        #expect(try await store.roster(of: alice) == Roster(version: 3, items: []))
        #expect(try await store.entry(of: alice, contact: bob) == RosterEntry(contact: bob))
    }

    static func everyFieldRoundTrips(_ store: any RosterStore) async throws {
        var expected: [RosterItem] = []
        for (index, subscription) in RosterSubscription.allCases.enumerated() {
            let contact = jid("contact\(index)@example.net")
            let item = RosterItem(
                jid: contact, name: index == 0 ? nil : "Zoë «\(index)» <&'\">",
                subscription: subscription, askSubscribe: index % 2 == 0, approved: index % 3 == 0,
                groups: index == 1 ? [] : ["Ünïcode", "a & b", "Z\(index)", "A"])
            try await store.update(user: alice, contact: contact) { $0.item = item }
            expected.append(item)
        }
        // A domain-only contact (a gateway or server) is a valid roster item too.
        let gateway = RosterItem(jid: jid("gateway.example.net"), subscription: .both)
        try await store.update(user: alice, contact: gateway.jid) { $0.item = gateway }
        expected.append(gateway)

        let roster = try await store.roster(of: alice)
        #expect(roster.items == expected.sorted { $0.jid.description < $1.jid.description })
        #expect(roster.version == Int64(expected.count))
        for item in expected {
            #expect(try await store.entry(of: alice, contact: item.jid).item == item)
            #expect(try await store.subscription(of: alice, contact: item.jid) == item.subscription)
        }
        // The light read presence broadcasts use agrees with the roster (order aside).
        #expect(Set(try await store.subscriptions(of: alice)) == Set(expected.map { ContactSubscription(jid: $0.jid, subscription: $0.subscription) }))
    }

    static func pendingRequestsAreNotItems(_ store: any RosterStore) async throws {
        let request = subscribeStanza(from: carol, to: alice)
        let stored = try await store.update(user: alice, contact: carol) { $0.pendingIn = request }
        #expect(!stored.itemChanged)
        #expect(stored.version == 0)
        #expect(try await store.roster(of: alice) == Roster(version: 0, items: []))
        #expect(try await store.subscriptions(of: alice).isEmpty, "a pending request is not an item")
        #expect(try await store.subscription(of: alice, contact: carol) == nil)
        #expect(try await store.pendingRequests(of: alice) == [RosterEntry(contact: carol, pendingIn: request)])
        #expect(try await store.entry(of: alice, contact: carol).pendingIn == request)

        // The user adds the contact: an item and the request side by side.
        try await store.update(user: alice, contact: carol) { $0.item = RosterItem(jid: carol, name: "Carol") }
        let both = try await store.entry(of: alice, contact: carol)
        #expect(both.item?.name == "Carol")
        #expect(both.pendingIn == request)

        let answered = try await store.update(user: alice, contact: carol) { $0.pendingIn = nil }
        #expect(!answered.itemChanged)
        #expect(try await store.pendingRequests(of: alice).isEmpty)
        #expect(try await store.roster(of: alice).items.map(\.jid) == [carol])

        // A request with no item, withdrawn: nothing is left.
        try await store.update(user: alice, contact: bob) { $0.pendingIn = subscribeStanza(from: bob, to: alice) }
        try await store.update(user: alice, contact: bob) { $0.pendingIn = nil }
        #expect(try await store.entry(of: alice, contact: bob) == RosterEntry(contact: bob))
    }

    static func usersAreSeparateAndKeyedByBareJID(_ store: any RosterStore) async throws {
        try await store.update(user: jid("alice@example.com/phone"), contact: jid("bob@example.com/laptop")) { entry in
            entry.item = RosterItem(jid: jid("someone@else.example"), name: "B")
        }
        let item = try #require(try await store.roster(of: alice).items.first)
        #expect(item.jid == bob, "the item's JID is always the contact's bare JID")
        #expect(try await store.roster(of: bob).items.isEmpty)
        #expect(try await store.roster(of: jid("alice@example.org")).items.isEmpty)
        #expect(try await store.roster(of: bob).version == 0)

        try await store.update(user: bob, contact: alice) { $0.item = RosterItem(jid: alice) }
        #expect(try await store.roster(of: alice).version == 1)
        #expect(try await store.roster(of: bob).version == 1)
    }

    struct Refused: Error, Equatable {}

    static func aThrowingBodyChangesNothing(_ store: any RosterStore) async throws {
        try await store.update(user: alice, contact: bob) { $0.item = RosterItem(jid: bob, name: "Bob") }
        await #expect(throws: Refused()) {
            try await store.update(user: alice, contact: bob) { entry in
                entry.item?.name = "Robert"
                entry.pendingIn = subscribeStanza(from: bob, to: alice)
                throw Refused()
            }
        }
        #expect(try await store.entry(of: alice, contact: bob) == RosterEntry(contact: bob, item: RosterItem(jid: bob, name: "Bob")))
        #expect(try await store.roster(of: alice).version == 1)
    }

    static func concurrentUpdatesAreAtomic(_ store: any RosterStore) async throws {
        let count = 40
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await store.update(user: alice, contact: bob) { entry in
                        var item = entry.item ?? RosterItem(jid: bob)
                        item.groups.append("g\(index)")
                        entry.item = item
                    }
                }
            }
            try await group.waitForAll()
        }
        let roster = try await store.roster(of: alice)
        #expect(roster.version == Int64(count))
        #expect(Set(roster.items.first?.groups ?? []) == Set((0..<count).map { "g\($0)" }))
    }

    static func deletingARosterKeepsTheVersionGrowing(_ store: any RosterStore) async throws {
        try await store.update(user: alice, contact: bob) { $0.item = RosterItem(jid: bob, subscription: .both) }
        try await store.update(user: alice, contact: carol) { $0.pendingIn = subscribeStanza(from: carol, to: alice) }
        try await store.update(user: bob, contact: alice) { $0.item = RosterItem(jid: alice, subscription: .both) }

        try await store.deleteRoster(of: alice)
        #expect(try await store.roster(of: alice) == Roster(version: 2, items: []))
        #expect(try await store.pendingRequests(of: alice).isEmpty)
        #expect(try await store.roster(of: bob).items.count == 1, "other users' rosters are untouched")

        let again = try await store.update(user: alice, contact: bob) { $0.item = RosterItem(jid: bob) }
        #expect(again.version == 3)
        // Deleting a roster that never existed is not an error.
        try await store.deleteRoster(of: jid("nobody@example.com"))
    }

    static func makeMutualContacts(_ store: any RosterStore) async throws {
        try await store.update(user: alice, contact: bob) { entry in
            entry.item = RosterItem(jid: bob, name: "Bobby", askSubscribe: true, approved: true, groups: ["G"])
            entry.pendingIn = subscribeStanza(from: bob, to: alice)
        }
        let (first, second) = try await store.makeMutualContacts(alice, jid("bob@example.com/res"))
        #expect(first.after == RosterEntry(contact: bob, item: RosterItem(jid: bob, name: "Bobby", subscription: .both, groups: ["G"])))
        #expect(second.after == RosterEntry(contact: alice, item: RosterItem(jid: alice, subscription: .both)))
        #expect(try await store.roster(of: bob).items == [RosterItem(jid: alice, subscription: .both)])
    }

    // MARK: - Fixtures

    static func jid(_ string: String) -> JID { try! JID(string) }

    /// A subscription request with the things a round trip could lose: escaping, a second namespace, xml:lang.
    static func subscribeStanza(from: JID, to: JID) -> XElement {
        XElement("presence", namespace: "jabber:client", attributes: [
            XAttribute(name: "from", value: from.description),
            XAttribute(name: "to", value: to.description),
            XAttribute(name: "type", value: "subscribe"),
            XAttribute(name: "id", value: "s'1\"<"),
            XAttribute(name: "lang", namespace: "http://www.w3.org/XML/1998/namespace", value: "en"),
        ], children: [
            .element(XElement("status", namespace: "jabber:client", children: [.text("Hi <friend> & 'you' ✓")])),
            .element(XElement("nick", namespace: "http://jabber.org/protocol/nick", children: [.text("Zoë")])),
        ])
    }
}
