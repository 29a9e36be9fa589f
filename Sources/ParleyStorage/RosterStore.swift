import XMPPAddress
import XMPPXML

/// The presence subscription between a user and a contact (RFC 6121 §2.1.2.5).
public enum RosterSubscription: String, Sendable, Hashable, CaseIterable {
    case none, to, from, both

    /// The user receives the contact's presence.
    public var hasTo: Bool { self == .to || self == .both }
    /// The contact receives the user's presence.
    public var hasFrom: Bool { self == .from || self == .both }

    public init(to: Bool, from: Bool) {
        switch (to, from) {
        case (false, false): self = .none
        case (true, false): self = .to
        case (false, true): self = .from
        case (true, true): self = .both
        }
    }
}

/// One contact on a user's roster as the user sees it (RFC 6121 §2.1.2).
public struct RosterItem: Sendable, Hashable {
    /// The contact's bare JID.
    public var jid: JID
    public var name: String?
    public var subscription: RosterSubscription
    /// The user asked to subscribe and the contact has not answered ("Pending Out", `ask='subscribe'`).
    public var askSubscribe: Bool
    /// The user pre-approved a subscription request from the contact (RFC 6121 §3.4).
    public var approved: Bool
    /// Group names, in the order the user gave them; no duplicates.
    public var groups: [String]

    public init(jid: JID, name: String? = nil, subscription: RosterSubscription = .none,
                askSubscribe: Bool = false, approved: Bool = false, groups: [String] = []) {
        self.jid = jid
        self.name = name
        self.subscription = subscription
        self.askSubscribe = askSubscribe
        self.approved = approved
        self.groups = groups
    }
}

/// Everything the server keeps about one contact of one user: the roster item, if the contact is on
/// the roster, and an inbound subscription request the user has not answered yet ("Pending In").
///
/// A contact that only sent a request has no item: it stays off the roster until the user approves
/// (RFC 6121 Appendix A.1, "None + Pending In"). An entry with neither is not kept.
public struct RosterEntry: Sendable, Hashable {
    /// The contact's bare JID.
    public let contact: JID
    public var item: RosterItem?
    /// The inbound `subscribe` stanza, kept to be delivered again at the user's next login (RFC 6121 §3.1.3).
    public var pendingIn: XElement?

    public init(contact: JID, item: RosterItem? = nil, pendingIn: XElement? = nil) {
        self.contact = contact
        self.item = item
        self.pendingIn = pendingIn
    }

    public var isEmpty: Bool { item == nil && pendingIn == nil }
}

/// A user's roster items (sorted by JID string) and its version (RFC 6121 §2.6).
public struct Roster: Sendable, Hashable {
    /// Grows by one with every change to an item; never goes back, even when the roster is deleted.
    public var version: Int64
    public var items: [RosterItem]

    public init(version: Int64, items: [RosterItem]) {
        self.version = version
        self.items = items
    }

    public func item(for jid: JID) -> RosterItem? { items.first { $0.jid == jid } }
}

/// The outcome of `RosterStore.update`: the entry before and after, and the roster version afterwards.
public struct RosterChange<Result: Sendable>: Sendable {
    public var before: RosterEntry
    public var after: RosterEntry
    /// The roster version after the update; bumped only when the item changed.
    public var version: Int64
    public var result: Result

    public init(before: RosterEntry, after: RosterEntry, version: Int64, result: Result) {
        self.before = before
        self.after = after
        self.version = version
        self.result = result
    }

    /// Whether the roster item (what clients see) changed, so interested resources need a push.
    public var itemChanged: Bool { before.item != after.item }
}

/// A roster item's contact and subscription state: all that presence broadcasts and probes need.
public struct ContactSubscription: Sendable, Hashable {
    public let jid: JID
    public var subscription: RosterSubscription
    /// `jid`'s string form, written once when the list is read: a presence broadcast addresses a
    /// copy to each contact, and kept lists are read again at every broadcast.
    public let address: String

    public init(jid: JID, subscription: RosterSubscription) {
        self.jid = jid
        self.subscription = subscription
        address = jid.description
    }

    /// With `address` already made (it must be `jid.description`): the roster cache shares one
    /// copy of each contact's address between the lists it keeps.
    init(jid: JID, subscription: RosterSubscription, address: String) {
        self.jid = jid
        self.subscription = subscription
        self.address = address
    }
}

public enum RosterStoreError: Error, Equatable, Sendable {
    case backend(String)
}

/// Rosters and pending subscription requests per user (RFC 6121 §2, §3).
/// Users and contacts are bare JIDs; stores key them by their canonical string.
/// Implementations: `InMemoryRosterStore` (tests), `SQLiteRosterStore` (default).
public protocol RosterStore: Sendable {
    /// The user's roster items and version. Contacts with only a pending request are not items.
    func roster(of user: JID) async throws -> Roster
    /// The subscription state of each roster item, in no particular order. Every presence update
    /// reads it, so stores answer it without names, groups or version when they can.
    func subscriptions(of user: JID) async throws -> [ContactSubscription]
    /// The subscription of one contact that is a roster item of the user, nil when it is not one:
    /// what probes and directed presence check, cheaper than the whole entry.
    func subscription(of user: JID, contact: JID) async throws -> RosterSubscription?
    /// The entry for one contact (empty when the store keeps nothing for it).
    func entry(of user: JID, contact: JID) async throws -> RosterEntry
    /// Entries with a stored inbound subscription request, sorted by contact JID string.
    func pendingRequests(of user: JID) async throws -> [RosterEntry]
    /// Reads, changes and writes one contact's entry in a single transaction.
    ///
    /// `body` sees an empty entry when nothing is stored; an entry left empty is deleted. The item's
    /// `jid` is always the contact. When the item changes the roster version grows by one. If `body`
    /// throws, nothing is written and the error is rethrown.
    @discardableResult
    func update<Result: Sendable>(
        user: JID, contact: JID, _ body: @escaping @Sendable (inout RosterEntry) throws -> Result
    ) async throws -> RosterChange<Result>
    /// Removes the user's items and requests (account deletion). The version is kept and bumped, so a
    /// client's cached roster of a deleted account never matches the roster of a new one of that name.
    func deleteRoster(of user: JID) async throws
}

extension RosterStore {
    public func subscriptions(of user: JID) async throws -> [ContactSubscription] {
        try await roster(of: user).items.map { ContactSubscription(jid: $0.jid, subscription: $0.subscription) }
    }

    public func subscription(of user: JID, contact: JID) async throws -> RosterSubscription? {
        try await entry(of: user, contact: contact).item?.subscription
    }

    /// Makes two users mutual contacts (`both`, nothing pending), creating the items as needed:
    /// the admin "add contact" command. Returns both changes (first for `a`'s roster).
    @discardableResult
    public func makeMutualContacts(_ a: JID, _ b: JID) async throws -> (RosterChange<Void>, RosterChange<Void>) {
        let first = try await update(user: a.bare, contact: b.bare) { Self.makeBoth(&$0) }
        let second = try await update(user: b.bare, contact: a.bare) { Self.makeBoth(&$0) }
        return (first, second)
    }

    private static func makeBoth(_ entry: inout RosterEntry) {
        var item = entry.item ?? RosterItem(jid: entry.contact)
        item.subscription = .both
        item.askSubscribe = false
        item.approved = false
        entry.item = item
        entry.pendingIn = nil
    }
}
