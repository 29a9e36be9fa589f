import Foundation
import ParleyKernel
import ParleyStorage
import Synchronization
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Last activity (XEP-0012): the server's uptime, and when an account last logged out.
///
/// The time and status of an account's last logout are stored when its last session closes; the
/// status is that of the last unavailable presence the session broadcast.
public struct LastActivityModule: Module {
    public static let namespace = "jabber:iq:last"
    /// The outbound hook that notes unavailable statuses runs before any hook that could consume
    /// broadcast presence (the roster's runs at -10); it never consumes anything itself.
    public static let outboundPriority = 1000
    public let name = "last-activity"
    private let store: any LastActivityStore
    private let startedAt: Date
    private let now: @Sendable () -> Date
    private let canSeePresence: (@Sendable (_ requester: JID, _ account: JID) async -> Bool)?
    private let leavingStatuses = LeavingStatuses()

    /// - Parameters:
    ///   - startedAt: when the server started, for its uptime (§5).
    ///   - now: the clock (injected by tests).
    ///   - canSeePresence: whether `requester` may see the presence of `account` (a subscription of
    ///     type from or both, RFC 6121 §3). Without it, only an account itself may ask; everyone else
    ///     is forbidden (§3, §4), until the roster provides subscriptions.
    public init(store: any LastActivityStore, startedAt: Date = Date(), now: @escaping @Sendable () -> Date = { Date() },
                canSeePresence: (@Sendable (_ requester: JID, _ account: JID) async -> Bool)? = nil) {
        self.store = store
        self.startedAt = startedAt
        self.now = now
        self.canSeePresence = canSeePresence
    }

    public func register(in registrar: ModuleRegistrar) {
        registrar.advertise(feature: Self.namespace)
        registrar.advertise(feature: Self.namespace, on: .account)
        let store = self.store
        let startedAt = self.startedAt
        let now = self.now
        let leavingStatuses = self.leavingStatuses
        let logger = registrar.kernel.logger
        let mayAsk: @Sendable (JID, JID) async -> Bool = { [canSeePresence] requester, account in
            if requester.bare == account.bare { return true }
            guard let canSeePresence else { return false }
            return await canSeePresence(requester, account.bare)
        }

        // §5: to the server, the seconds since it started.
        registrar.handleIQ("query", namespace: Self.namespace, types: [.get], target: .server) { _ in
            .success(Self.reply(seconds: Self.seconds(from: startedAt, to: now())))
        }

        // §3: to an account, the seconds since it last logged out.
        registrar.handleIQ("query", namespace: Self.namespace, types: [.get], target: .account) {
            [unowned kernel = registrar.kernel] request in
            let account = request.to.bare
            guard let username = account.localpart else { return .failure(StanzaError(.serviceUnavailable)) }
            // §3: MUST be forbidden to those not allowed to see the account's presence.
            guard await mayAsk(request.from, account) else { return .failure(StanzaError(.forbidden)) }
            // §3: an account with a connected resource MUST get seconds='0' and no text.
            if !kernel.sessions.sessions(for: account).isEmpty { return .success(Self.reply(seconds: 0)) }
            do {
                guard let record = try await store.lastActivity(username: username, host: account.domainpart) else {
                    // Never logged out since accounts were tracked: nothing to report.
                    return .failure(StanzaError(.itemNotFound))
                }
                let seconds = max(0, Int64(now().timeIntervalSince1970.rounded(.down)) - record.timestamp)
                return .success(Self.reply(seconds: seconds, status: record.status))
            } catch {
                logger.error("last activity lookup failed", metadata: ["jid": "\(account)", "error": "\(error)"])
                return .failure(StanzaError(.internalServerError))
            }
        }

        // §4: a query to a full JID MUST NOT reach the resource of someone not allowed to see its presence.
        registrar.onInbound(immediate: { inbound in
            Self.isQueryToResource(inbound) ? .suspend : .pass
        }) { [unowned kernel = registrar.kernel] inbound in
            guard Self.isQueryToResource(inbound) else { return .pass }
            if await mayAsk(inbound.from, inbound.to) { return .pass }
            kernel.bounce(inbound.stanza, StanzaError(.forbidden))
            return .handled
        }

        // The status of the last unavailable presence a session broadcast (RFC 6121 §4.5.1).
        registrar.onOutbound(priority: Self.outboundPriority, synchronous: { outbound in
            let stanza = outbound.stanza
            guard stanza.kind == .presence, stanza.toString == nil else { return .pass }
            switch stanza.type {
            case "unavailable":
                leavingStatuses.set(stanza.element.child("status")?.text ?? "", for: outbound.session)
            case nil:
                leavingStatuses.remove(outbound.session)
            default:
                break
            }
            return .pass
        })

        registrar.onSessionClosed { [unowned kernel = registrar.kernel] session in
            let status = leavingStatuses.remove(session) ?? ""
            let account = session.jid.bare
            guard let username = account.localpart, kernel.sessions.sessions(for: account).isEmpty,
                  // A deleted account's sessions close after its data is gone; nothing to record then.
                  await kernel.accountExists(account) else { return }
            let record = LastActivityRecord(timestamp: Int64(now().timeIntervalSince1970.rounded(.down)), status: status)
            do {
                try await store.setLastActivity(record, username: username, host: account.domainpart)
            } catch {
                logger.error("last activity update failed", metadata: ["jid": "\(account)", "error": "\(error)"])
            }
        }
    }

    /// Removes what this module keeps for an account when the account is deleted; runs also when
    /// `modules_disabled` names the module, so no data outlives its account.
    public func registerAccountData(in registrar: ModuleRegistrar) {
        let store = self.store
        let logger = registrar.kernel.logger
        registrar.onAccountDeleted { user in
            guard let username = user.localpart else { return }
            do {
                try await store.deleteLastActivity(username: username, host: user.domainpart)
            } catch {
                logger.error("last activity removal failed", metadata: ["jid": "\(user)", "error": "\(error)"])
            }
        }
    }

    /// A last-activity query to a resource, which §4 lets through only to those who may see the
    /// resource's presence.
    static func isQueryToResource(_ inbound: InboundStanza) -> Bool {
        let stanza = inbound.stanza
        guard stanza.kind == .iq, stanza.type == "get", inbound.to.localpart != nil, inbound.to.resourcepart != nil,
              let payload = stanza.element.elements.first else { return false }
        return payload.name == "query" && payload.namespace == namespace
    }

    /// `<query xmlns='jabber:iq:last' seconds='…'>status</query>` (§2).
    static func reply(seconds: Int64, status: String = "") -> XElement {
        var query = XElement("query", namespace: Self.namespace, ["seconds": String(seconds)])
        if !status.isEmpty { query.append(text: status) }
        return query
    }

    static func seconds(from start: Date, to end: Date) -> Int64 {
        max(0, Int64(end.timeIntervalSince(start).rounded(.down)))
    }

    /// Statuses of sessions that broadcast unavailable presence and have not closed yet.
    /// An entry lives from that presence until the session closes or becomes available again.
    private final class LeavingStatuses: Sendable {
        private let statuses = Mutex<[ObjectIdentifier: String]>([:])

        func set(_ status: String, for session: LocalSession) {
            statuses.withLock { $0[ObjectIdentifier(session)] = status }
        }

        @discardableResult
        func remove(_ session: LocalSession) -> String? {
            statuses.withLock { $0.removeValue(forKey: ObjectIdentifier(session)) }
        }
    }
}
