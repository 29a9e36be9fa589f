import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// RFC 6121 rosters (§2), presence subscriptions (§3, Appendix A) and presence exchange (§4), with
/// roster versioning (§2.6) and subscription pre-approval (§3.4).
public struct RosterPresenceModule: Module {
    public struct Options: Sendable, Hashable {
        /// Offer and honour subscription pre-approval (RFC 6121 §3.4).
        public var preApproval: Bool
        /// The longest item name accepted, in UTF-8 bytes (RFC 6121 §2.3.3 leaves the limit to the
        /// server). 1024 holds any real name and keeps a roster push well under stanza size limits.
        public var maxNameBytes: Int
        /// The longest group name accepted, in UTF-8 bytes (§2.3.3), for the same reasons.
        public var maxGroupBytes: Int

        public init(preApproval: Bool = true, maxNameBytes: Int = 1024, maxGroupBytes: Int = 1024) {
            self.preApproval = preApproval
            self.maxNameBytes = maxNameBytes
            self.maxGroupBytes = maxGroupBytes
        }
    }

    /// Hooks run after filters with a higher priority (blocking, privacy) have had their say.
    public static let hookPriority = -10

    public let name = "roster"
    public let store: any RosterStore
    public let options: Options

    public init(store: any RosterStore, options: Options = Options()) {
        self.store = store
        self.options = options
    }

    public func register(in registrar: ModuleRegistrar) {
        let context = RosterContext(kernel: registrar.kernel, store: store, options: options)
        let roster = RosterIQHandler(context: context)
        let presence = PresenceHandler(context: context, subscriptions: SubscriptionHandler(context: context))

        registrar.handleIQ("query", namespace: RosterNamespaces.roster, types: [.get, .set], target: .account) { request in
            await roster.handle(request)
        }
        registrar.offer(streamFeature: XElement("ver", namespace: RosterNamespaces.versioning))
        if options.preApproval {
            registrar.offer(streamFeature: XElement("sub", namespace: RosterNamespaces.preApproval))
        }
        registrar.onOutbound(priority: Self.hookPriority, immediate: { outbound in
            PresenceHandler.handlesOutbound(outbound) ? .suspend : .pass
        }) { outbound in await presence.outbound(&outbound) }
        registrar.onInbound(priority: Self.hookPriority, immediate: { inbound in
            PresenceHandler.handlesInbound(inbound) ? .suspend : .pass
        }) { inbound in await presence.inbound(&inbound) }
        registrar.onSessionClosed(priority: Self.hookPriority) { session in await presence.sessionClosed(session) }
        registrar.onAccountDeleted { user in await Self.accountDeleted(user, context: context, presence: presence) }
    }

    /// Makes two accounts mutual contacts (`both`), as the admin "add contact" command does: their
    /// interested resources get roster pushes and their available resources each other's presence.
    public func makeMutualContacts(_ a: JID, _ b: JID, kernel: Kernel) async throws {
        let context = RosterContext(kernel: kernel, store: store, options: options)
        let (first, second) = try await store.makeMutualContacts(a.bare, b.bare)
        context.pushIfChanged(first, to: a.bare)
        context.pushIfChanged(second, to: b.bare)
        await context.sendCurrentPresence(of: a.bare, to: b.bare)
        await context.sendCurrentPresence(of: b.bare, to: a.bare)
    }

    /// An account was deleted: its sessions are announced unavailable, its contacts are told the
    /// subscriptions are over (as removing each item would, §2.5.2), and its roster is removed.
    private static func accountDeleted(_ user: JID, context: RosterContext, presence: PresenceHandler) async {
        for session in context.kernel.sessions.sessions(for: user) {
            await presence.broadcastUnavailable(nil, from: session)
        }
        do {
            let items = try await context.store.roster(of: user).items
            for item in items where item.subscription.hasTo || item.askSubscribe {
                await context.dispatch(RosterContext.presence(type: "unsubscribe"), from: user, to: item.jid)
            }
            var denied = Set(items.filter(\.subscription.hasFrom).map(\.jid))
            denied.formUnion(try await context.store.pendingRequests(of: user).map(\.contact))
            for contact in denied.sorted(by: { $0.description < $1.description }) {
                await context.dispatch(RosterContext.presence(type: "unsubscribed"), from: user, to: contact)
            }
            try await context.store.deleteRoster(of: user)
        } catch {
            context.logStoreFailure(error, "account deletion", user: user)
        }
    }
}
