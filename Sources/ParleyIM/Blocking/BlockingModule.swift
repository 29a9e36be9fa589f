import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// XEP-0191 Blocking Command: each account's list of blocked JIDs, and its effects on routing.
///
/// - Inbound (an `onInbound` hook, before delivery, storage and archiving): nothing from a blocked
///   JID reaches the user (§3.3). Presence is dropped silently; messages and IQ gets/sets are
///   answered `service-unavailable`, as if the user were not there; IQ results and errors are dropped.
/// - Outbound: a stanza from the user to a blocked JID is not routed; the client gets
///   `not-acceptable` with `<blocked xmlns='urn:xmpp:blocking:errors'/>` (§3.3). Stanzas the server
///   generates on the user's behalf (presence broadcasts, probe answers) are dropped silently, except
///   unavailable presence.
/// - A delivery filter applies the list to stanzas modules hand straight to sessions.
/// - The user's own account and own server are never blocked (§5 note): the user could no longer
///   talk to the server, not even to unblock.
public struct BlockingModule: Module {
    public static let namespace = "urn:xmpp:blocking"
    public static let errorsNamespace = "urn:xmpp:blocking:errors"
    /// The session flag set when a client retrieves the blocklist: it then gets pushes (§3.3).
    public static let flag = "blocklist"
    /// Before every other inbound or outbound hook: a blocked stanza is neither delivered, stored nor copied.
    public static let hookPriority = 1000
    public static let defaultMaxItems = 1000
    public let name = "blocking"
    let store: any BlocklistStore
    let maxItems: Int
    let cache = BlocklistCache()
    let owners = BlocklistOwners()

    /// - Parameter maxItems: the most JIDs one account may block; a block beyond it is refused
    ///   with `policy-violation`.
    public init(store: any BlocklistStore, maxItems: Int = BlockingModule.defaultMaxItems) {
        self.store = store
        self.maxItems = maxItems
    }

    public func register(in registrar: ModuleRegistrar) {
        let kernel = registrar.kernel
        // XEP-0191 §3.1.
        registrar.advertise(feature: Self.namespace)
        registrar.handleIQ("blocklist", namespace: Self.namespace, types: [.get], target: .account) { request in
            await blocklist(request, kernel: kernel)
        }
        registrar.handleIQ("block", namespace: Self.namespace, types: [.set], target: .account) { request in
            await block(request, kernel: kernel)
        }
        registrar.handleIQ("unblock", namespace: Self.namespace, types: [.set], target: .account) { request in
            await unblock(request, kernel: kernel)
        }
        registrar.onInbound(priority: Self.hookPriority, immediate: { inbound in
            filterInboundImmediately(inbound, kernel: kernel)
        }) { inbound in
            await filterInbound(inbound, kernel: kernel)
        }
        registrar.onOutbound(priority: Self.hookPriority, immediate: { outbound in
            filterOutboundImmediately(outbound)
        }) { outbound in
            await filterOutbound(outbound, kernel: kernel)
        }
        registrar.filterDelivery { stanza, session in
            mayDeliver(stanza, to: session)
        }
        registrar.onSessionBound { session in
            let user = session.jid.bare
            cache.track(user)
            await reload(user, kernel: kernel)
        }
        registrar.onSessionClosed { session in
            let user = session.jid.bare
            cache.evict(user) { kernel.sessions.sessions(for: user).isEmpty }
        }
    }

    /// Removes what this module keeps for an account when the account is deleted; runs also when
    /// `modules_disabled` names the module, so no data outlives its account.
    public func registerAccountData(in registrar: ModuleRegistrar) {
        let kernel = registrar.kernel
        registrar.onAccountDeleted { user in
            do {
                try await store.unblockAll(for: user)
            } catch {
                kernel.logger.error("could not remove a blocklist", metadata: ["user": "\(user)", "error": "\(error)"])
            }
            cache.invalidate(user)
            await reload(user, kernel: kernel)
        }
    }

    // MARK: Lists

    /// The user's list: from the cache when the user is online, otherwise from the store.
    /// Nil when the store failed (the stanza is then let through, and the failure logged).
    func list(of user: JID, kernel: Kernel) async -> BlockedJIDs? {
        // Nearly every user blocks nobody: once the owners are known, those need no lookup at all.
        var answer = owners.check(user)
        if answer == .loadFirst {
            await loadOwners(kernel: kernel)
            answer = owners.check(user, mayLoad: false)
        }
        if answer == .noList { return Self.emptyList }
        if let cached = cache.list(of: user) { return cached }
        do {
            return BlockedJIDs(try await store.blockedJIDs(of: user))
        } catch {
            kernel.logger.error("could not read a blocklist", metadata: ["user": "\(user)", "error": "\(error)"])
            return nil
        }
    }

    private static let emptyList = BlockedJIDs([])

    private func loadOwners(kernel: Kernel) async {
        do {
            owners.finishLoading(try await store.usersWithBlockedJIDs())
        } catch {
            owners.loadingFailed()
            kernel.logger.error("could not read which users have blocklists", metadata: ["error": "\(error)"])
        }
    }

    /// Loads a tracked user's list into the cache (see `BlocklistCache`). After a few reads that
    /// raced with changes, or a store failure, the list stays uncached and is read from the store.
    func reload(_ user: JID, kernel: Kernel) async {
        // Nothing to cache for a user who blocks nobody: `list(of:)` answers from the owners. This
        // saves a read of the store at nearly every login.
        if owners.check(user) == .loadFirst { await loadOwners(kernel: kernel) }
        if owners.certainlyHasNoList(user) { return }
        for _ in 0..<4 {
            guard let generation = cache.generation(of: user) else { return }
            let jids: [JID]
            do {
                jids = try await store.blockedJIDs(of: user)
            } catch {
                kernel.logger.error("could not load a blocklist", metadata: ["user": "\(user)", "error": "\(error)"])
                return
            }
            if cache.commit(BlockedJIDs(jids), for: user, loadedAt: generation) { return }
        }
    }

    /// Whether `user` blocked `other`, never true for the user's own account or own server.
    func isBlocked(_ other: JID, by user: JID, kernel: Kernel) async -> Bool {
        guard !Self.isExempt(other, for: user) else { return false }
        return await list(of: user, kernel: kernel)?.blocks(other) ?? false
    }

    /// `isBlocked` when the answer is known without reading the store (the user blocks nobody, or
    /// the user's list is cached); nil when the list must be read.
    func knownBlocked(_ other: JID, by user: JID) -> Bool? {
        guard !Self.isExempt(other, for: user) else { return false }
        if owners.certainlyHasNoList(user) { return false }
        return cache.list(of: user)?.blocks(other)
    }

    static func isExempt(_ other: JID, for user: JID) -> Bool {
        other.bare == user.bare || (other.localpart == nil && other.resourcepart == nil && other.domainpart == user.domainpart)
    }
}
