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
public final class LocalSessionRegistry: SessionRegistry {
    private let table = Mutex<[JID: [String: LocalSession]]>([:])
    private let countStorage = Atomic<Int>(0)
    private let makeResource: @Sendable () -> String

    public init(makeResource: @escaping @Sendable () -> String = { RandomID.make(length: 12) }) {
        self.makeResource = makeResource
    }

    public func bind(user: JID, resource: String?, transport: any SessionHandle) -> (session: LocalSession, replaced: LocalSession?) {
        let bare = user.bare
        return table.withLock { table in
            var resources = table[bare] ?? [:]
            var chosen = resource.flatMap { try? bare.with(resource: $0) }
            while chosen == nil || (resource == nil && resources[chosen!.resourcepart!] != nil) {
                chosen = try? bare.with(resource: makeResource())
            }
            let full = chosen!
            let replaced = resources[full.resourcepart!]
            let session = LocalSession(jid: full, transport: transport)
            resources[full.resourcepart!] = session
            table[bare] = resources
            if replaced == nil { countStorage.add(1, ordering: .relaxed) }
            return (session, replaced)
        }
    }

    public func unbind(_ session: LocalSession) -> Bool {
        let jid = session.jid
        guard let resource = jid.resourcepart else { return false }
        return table.withLock { table in
            guard var resources = table[jid.bare], let current = resources[resource], current === session else { return false }
            resources[resource] = nil
            table[jid.bare] = resources.isEmpty ? nil : resources
            countStorage.subtract(1, ordering: .relaxed)
            return true
        }
    }

    public func session(for fullJID: JID) -> LocalSession? {
        guard let resource = fullJID.resourcepart else { return nil }
        return table.withLock { $0[fullJID.bare]?[resource] }
    }

    public func sessions(for bareJID: JID) -> [LocalSession] {
        table.withLock { table in table[bareJID.bare].map { Array($0.values) } ?? [] }
    }

    public var count: Int { countStorage.load(ordering: .relaxed) }

    public func allSessions() -> [LocalSession] {
        table.withLock { table in table.values.flatMap { $0.values } }
    }
}
