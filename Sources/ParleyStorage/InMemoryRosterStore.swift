import Synchronization
import XMPPAddress

/// Rosters kept in memory: for tests and ephemeral servers.
public final class InMemoryRosterStore: RosterStore {
    private struct UserRoster {
        var version: Int64 = 0
        var entries: [JID: RosterEntry] = [:]
    }

    private let users = Mutex<[JID: UserRoster]>([:])

    public init() {}

    public func roster(of user: JID) async throws -> Roster {
        users.withLock { users in
            let roster = users[user.bare] ?? UserRoster()
            let items = roster.entries.values.compactMap(\.item).sorted { $0.jid.description < $1.jid.description }
            return Roster(version: roster.version, items: items)
        }
    }

    public func entry(of user: JID, contact: JID) async throws -> RosterEntry {
        users.withLock { $0[user.bare]?.entries[contact.bare] } ?? RosterEntry(contact: contact.bare)
    }

    public func pendingRequests(of user: JID) async throws -> [RosterEntry] {
        users.withLock { users in
            guard let roster = users[user.bare] else { return [] }
            return roster.entries.values
                .filter { $0.pendingIn != nil }
                .sorted { $0.contact.description < $1.contact.description }
        }
    }

    @discardableResult
    public func update<Result: Sendable>(
        user: JID, contact: JID, _ body: @escaping @Sendable (inout RosterEntry) throws -> Result
    ) async throws -> RosterChange<Result> {
        let user = user.bare
        let contact = contact.bare
        return try users.withLock { users in
            var roster = users[user] ?? UserRoster()
            let before = roster.entries[contact] ?? RosterEntry(contact: contact)
            var entry = before
            let result = try body(&entry)
            let after = RosterEntry(contact: contact, item: entry.item.map { item in
                var item = item
                item.jid = contact
                return item
            }, pendingIn: entry.pendingIn)
            roster.entries[contact] = after.isEmpty ? nil : after
            if before.item != after.item { roster.version += 1 }
            users[user] = roster
            return RosterChange(before: before, after: after, version: roster.version, result: result)
        }
    }

    public func deleteRoster(of user: JID) async throws {
        users.withLock { users in
            guard var roster = users[user.bare] else { return }
            roster.entries = [:]
            roster.version += 1
            users[user.bare] = roster
        }
    }
}
