import Synchronization
import XMPPAddress

/// The online sessions, by bare JID and resource. A protocol seam so a cluster can replace it.
public protocol SessionRegistry: Sendable {
    /// Binds a resource for `user` (generating one when `resource` is nil). A session already bound to
    /// the same full JID is returned as `replaced`; the caller terminates it (RFC 6120 §7.7.2.2).
    func bind(user: JID, resource: String?, makeSession: (JID) -> any SessionHandle) -> (session: any SessionHandle, replaced: (any SessionHandle)?)
    /// Removes the session if it is still the one bound to its JID.
    func unbind(_ session: any SessionHandle)
    func session(for fullJID: JID) -> (any SessionHandle)?
    func sessions(for bareJID: JID) -> [any SessionHandle]
    var count: Int { get }
    func allSessions() -> [any SessionHandle]
}

/// The single-process registry.
public final class LocalSessionRegistry: SessionRegistry {
    private let table = Mutex<[JID: [String: any SessionHandle]]>([:])
    private let countStorage = Atomic<Int>(0)
    private let makeResource: @Sendable () -> String

    public init(makeResource: @escaping @Sendable () -> String = { RandomID.make(length: 12) }) {
        self.makeResource = makeResource
    }

    public func bind(user: JID, resource: String?, makeSession: (JID) -> any SessionHandle) -> (session: any SessionHandle, replaced: (any SessionHandle)?) {
        let bare = user.bare
        return table.withLock { table in
            var resources = table[bare] ?? [:]
            var chosen = resource.flatMap { try? bare.with(resource: $0) }
            if chosen == nil {
                repeat { chosen = try? bare.with(resource: makeResource()) } while chosen == nil || resources[chosen!.resourcepart!] != nil
            }
            let full = chosen!
            let replaced = resources[full.resourcepart!]
            let session = makeSession(full)
            resources[full.resourcepart!] = session
            table[bare] = resources
            if replaced == nil { countStorage.add(1, ordering: .relaxed) }
            return (session, replaced)
        }
    }

    public func unbind(_ session: any SessionHandle) {
        let jid = session.jid
        guard let resource = jid.resourcepart else { return }
        table.withLock { table in
            guard var resources = table[jid.bare], let current = resources[resource], current === session else { return }
            resources[resource] = nil
            table[jid.bare] = resources.isEmpty ? nil : resources
            countStorage.subtract(1, ordering: .relaxed)
        }
    }

    public func session(for fullJID: JID) -> (any SessionHandle)? {
        guard let resource = fullJID.resourcepart else { return nil }
        return table.withLock { $0[fullJID.bare]?[resource] }
    }

    public func sessions(for bareJID: JID) -> [any SessionHandle] {
        table.withLock { table in table[bareJID.bare].map { Array($0.values) } ?? [] }
    }

    public var count: Int { countStorage.load(ordering: .relaxed) }

    public func allSessions() -> [any SessionHandle] {
        table.withLock { table in table.values.flatMap { $0.values } }
    }
}
