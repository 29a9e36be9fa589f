import Synchronization
import XMPPAddress

/// The online sessions, by bare JID and resource. A protocol seam so a cluster can replace it.
public protocol SessionRegistry: Sendable {
    /// Binds a resource for `user` (generating one when `resource` is nil). A session already bound to
    /// the same full JID is returned as `replaced`; the caller terminates it (RFC 6120 §7.7.2.2).
    func bind(user: JID, resource: String?, transport: any SessionHandle) -> (session: LocalSession, replaced: LocalSession?)
    /// Removes the session if it is still the one bound to its JID. Returns whether it was.
    @discardableResult
    func unbind(_ session: LocalSession) -> Bool
    func session(for fullJID: JID) -> LocalSession?
    func sessions(for bareJID: JID) -> [LocalSession]
    var count: Int { get }
    func allSessions() -> [LocalSession]
}

/// The single-process registry.
///
/// A user's sessions are kept in a plain array in binding order: users have one to a few
/// resources, a scan of those beats hashing, and routing to a bare JID (every message and presence
/// broadcast) gets the array itself, with nothing copied.
public final class LocalSessionRegistry: SessionRegistry {
    private let table = Mutex<[JID: [LocalSession]]>([:])
    private let countStorage = Atomic<Int>(0)
    private let makeResource: @Sendable () -> String

    public init(makeResource: @escaping @Sendable () -> String = { RandomID.make(length: 12) }) {
        self.makeResource = makeResource
    }

    public func bind(user: JID, resource: String?, transport: any SessionHandle) -> (session: LocalSession, replaced: LocalSession?) {
        let bare = user.bare
        return table.withLock { table in
            var sessions = table[bare] ?? []
            var chosen = resource.flatMap { try? bare.with(resource: $0) }
            while chosen == nil || (resource == nil && Self.index(of: chosen!.resourcepart!, in: sessions) != nil) {
                chosen = try? bare.with(resource: makeResource())
            }
            let full = chosen!
            let session = LocalSession(jid: full, transport: transport)
            var replaced: LocalSession?
            if let index = Self.index(of: full.resourcepart!, in: sessions) {
                replaced = sessions[index]
                sessions[index] = session
            } else {
                sessions.append(session)
                countStorage.add(1, ordering: .relaxed)
            }
            table[bare] = sessions
            return (session, replaced)
        }
    }

    public func unbind(_ session: LocalSession) -> Bool {
        let bare = session.jid.bare
        return table.withLock { table in
            guard var sessions = table[bare], let index = sessions.firstIndex(where: { $0 === session }) else { return false }
            sessions.remove(at: index)
            table[bare] = sessions.isEmpty ? nil : sessions
            countStorage.subtract(1, ordering: .relaxed)
            return true
        }
    }

    public func session(for fullJID: JID) -> LocalSession? {
        guard let resource = fullJID.resourcepart else { return nil }
        return table.withLock { table in
            guard let sessions = table[fullJID.bare], let index = Self.index(of: resource, in: sessions) else { return nil }
            return sessions[index]
        }
    }

    public func sessions(for bareJID: JID) -> [LocalSession] {
        table.withLock { $0[bareJID.bare] ?? [] }
    }

    public var count: Int { countStorage.load(ordering: .relaxed) }

    public func allSessions() -> [LocalSession] {
        table.withLock { table in table.values.flatMap { $0 } }
    }

    private static func index(of resource: String, in sessions: [LocalSession]) -> Int? {
        sessions.firstIndex { $0.jid.resourcepart == resource }
    }
}
