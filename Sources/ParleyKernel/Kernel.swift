import Logging
import Synchronization
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Hosts, sessions, modules, and the routing of stanzas between them (RFC 6120 §10, RFC 6121 §8).
public final class Kernel: Sendable {
    public let hosts: Set<String>
    /// The same names in a list: a server has one or a few, and comparing those beats hashing the
    /// domain on each of the several checks every routed stanza makes.
    private let hostList: [String]
    public let sessions: any SessionRegistry
    public let accounts: any AccountStore
    public let logger: Logger
    let table: ModuleTable
    let pendingIQs = PendingIQs()
    private let remoteRouter = Mutex<(any RemoteRouter)?>(nil)

    public init(hosts: Set<String>, accounts: any AccountStore, sessions: any SessionRegistry = LocalSessionRegistry(),
                modules: [any Module], disabledModules: [any Module] = [], logger: Logger) {
        self.hosts = hosts
        hostList = hosts.count <= 8 ? Array(hosts) : []
        self.accounts = accounts
        self.sessions = sessions
        self.logger = logger
        self.table = ModuleTable()
        let registrar = ModuleRegistrar(table: table, kernel: self)
        for module in modules { module.register(in: registrar) }
        // A disabled module serves nothing, but an account's data it kept must still go with the account.
        for module in modules + disabledModules { module.registerAccountData(in: registrar) }
    }

    /// Connects federation: stanzas for domains we do not host go there. Set once at start-up.
    public func attach(remote router: any RemoteRouter) {
        remoteRouter.withLock { $0 = router }
    }

    public var remote: (any RemoteRouter)? { remoteRouter.withLock { $0 } }

    public var serverFeatures: [String] { table.serverFeatures }
    public var accountFeatures: [String] { table.accountFeatures }
    public var serverIdentities: [DiscoIdentity] { table.serverIdentities }
    public var serverExtensions: [XElement] { table.serverExtensions }
    /// Stream features modules offer after authentication.
    public var streamFeatures: [XElement] { table.streamFeatures }

    public func isLocal(_ jid: JID) -> Bool {
        if hostList.isEmpty { return hosts.contains(jid.domainpart) }
        return hostList.contains(jid.domainpart)
    }

    // MARK: Sessions

    /// Binds a resource (RFC 6120 §7). A session already bound to that full JID is told `conflict`
    /// and replaced (§7.7.2.2, the "override" policy ejabberd and Prosody use by default).
    public func bind(user: JID, resource: String?, transport: any SessionHandle) async -> LocalSession {
        let (session, replaced) = sessions.bind(user: user, resource: resource, transport: transport)
        if let replaced {
            logger.info("session replaced by a new login", metadata: ["jid": "\(session.jid)"])
            replaced.transport.terminate(StreamError(.conflict, text: "replaced by a new session"))
            await runClosedHooks(replaced)
        }
        for entry in table.sessionBound { await entry.hook(session) }
        return session
    }

    /// The session's stream ended, cleanly or not: modules send unavailable presence and clean up.
    public func unbind(_ session: LocalSession) async {
        guard sessions.unbind(session) else { return }
        await runClosedHooks(session)
    }

    private func runClosedHooks(_ session: LocalSession) async {
        for entry in table.sessionClosed { await entry.hook(session) }
    }

    /// Announced by the presence module when a session sends its initial presence.
    public func sessionBecameAvailable(_ session: LocalSession) async {
        for entry in table.sessionAvailable { await entry.hook(session) }
    }

    /// Sessions of an account that are available (have sent available presence), RFC 6121 §8.5.
    public func availableSessions(of user: JID) -> [LocalSession] {
        sessions.sessions(for: user.bare).filter(\.isAvailable)
    }

    public func accountExists(_ user: JID) async -> Bool {
        guard let username = user.localpart, isLocal(user) else { return false }
        if !sessions.sessions(for: user.bare).isEmpty { return true }
        do {
            return try await accounts.exists(username: username, host: user.domainpart)
        } catch {
            logger.error("account lookup failed", metadata: ["jid": "\(user.bare)", "error": "\(error)"])
            return false
        }
    }

    /// Removes an account and everything modules keep for it; its sessions are closed.
    /// `lastWords` goes to one of its sessions just before the close (e.g. the XEP-0077 §3.2 result).
    public func deleteAccount(_ user: JID, lastWords: (to: JID, stanza: XElement)? = nil) async throws -> Bool {
        guard let username = user.localpart else { return false }
        for session in sessions.sessions(for: user.bare) {
            if let lastWords, lastWords.to == session.jid { session.transport.deliver(lastWords.stanza) }
            session.transport.terminate(StreamError(.notAuthorized, text: "account removed"))
        }
        let removed = try await accounts.delete(username: username, host: user.domainpart)
        for hook in table.accountDeleted { await hook(user.bare) }
        return removed
    }

    // MARK: Routing

    /// Routes a stanza from a bound local session (its `from` already stamped).
    /// Stanzas from one session must be routed one after another (RFC 6120 §10.1).
    public func route(_ stanza: Stanza, from session: LocalSession) async {
        await routeImmediately(stanza, from: session)?()
    }

    /// Routes as far as it can without suspending; returns the rest, which the caller must run
    /// before the session's next stanza, or nil when the stanza was routed. A message to an online
    /// contact whose hooks all decide immediately is written to its recipients before this returns,
    /// with no async task at all (one per stanza was the biggest item of a message's CPU after the
    /// socket writes).
    public func routeImmediately(_ stanza: Stanza, from session: LocalSession) -> RoutingRemainder? {
        if stanza.kind == .iq, let problem = Self.iqShapeProblem(stanza) {
            bounce(stanza, problem)
            return nil
        }
        let to: JID
        if let toString = stanza.toString {
            guard let parsed = try? JID(toString) else {
                bounce(stanza, StanzaError(.jidMalformed))
                return nil
            }
            to = parsed
        } else {
            // RFC 6120 §10.3: no `to` means the stanza is for the sender's own account, handled by the server.
            to = session.jid.bare
        }
        var outbound = OutboundStanza(stanza: stanza, session: session, to: to)
        switch table.outbound.runImmediately(&outbound) {
        case .handled:
            return nil
        case .passed:
            return dispatchImmediately(outbound.stanza, from: session.jid, to: outbound.to)
        case .suspended(let index):
            return { [self, outbound] in
                var outbound = outbound
                guard await table.outbound.runSuspending(&outbound, from: index) == .pass else { return }
                await dispatch(outbound.stanza, from: outbound.session.jid, to: outbound.to)
            }
        }
    }

    /// Routes a stanza whose `from` and `to` are already set: generated by the server or a module,
    /// or received from another server.
    public func dispatch(_ stanza: Stanza) async {
        await dispatchImmediately(stanza)?()
    }

    /// `dispatch(_:)` as far as it goes without suspending; the rest as for `routeImmediately`.
    public func dispatchImmediately(_ stanza: Stanza) -> RoutingRemainder? {
        guard let fromString = stanza.fromString, let from = try? JID(fromString),
              let toString = stanza.toString, let to = try? JID(toString) else {
            logger.debug("dropping stanza without valid addresses", metadata: ["stanza": "\(stanza.kind)"])
            return nil
        }
        return dispatchImmediately(stanza, from: from, to: to)
    }

    /// Routes a stanza the server generated from `from` to `to`, setting both on it: for callers
    /// that hold the addresses as JIDs already (presence broadcasts), so nothing is parsed again.
    public func dispatch(_ element: XElement, from: JID, to: JID) async {
        var element = element
        element[attribute: "from"] = from.description
        await dispatch(element, fromAlreadySet: from, to: to)
    }

    /// `dispatch(_:from:to:)` for an element whose `from` already is `from`: a broadcast sends one
    /// element to many contacts, and need not write its sender's address out again for each.
    /// `toAddress`, when given, is `to`'s string form, kept by a caller that sends to it often.
    public func dispatch(_ element: XElement, fromAlreadySet from: JID, to: JID, toAddress: String? = nil) async {
        assert(element[attribute: "from"] == from.description, "the element's from must already be the sender")
        assert(toAddress == nil || toAddress == to.description, "toAddress must be to's string form")
        var element = element
        element[attribute: "to"] = toAddress ?? to.description
        guard let stanza = Stanza(element) else { return }
        await dispatch(stanza, from: from, to: to)
    }

    private func dispatch(_ stanza: Stanza, from: JID, to: JID) async {
        await dispatchImmediately(stanza, from: from, to: to)?()
    }

    private func dispatchImmediately(_ stanza: Stanza, from: JID, to: JID) -> RoutingRemainder? {
        guard isLocal(to) else {
            guard let remote else {
                // Without federation no remote domain can be reached (RFC 6120 §8.3.3.15).
                bounce(stanza, StanzaError(.remoteServerNotFound))
                return nil
            }
            remote.send(stanza, to: to.domainpart)
            return nil
        }
        var inbound = InboundStanza(stanza: stanza, from: from, to: to)
        switch table.inbound.runImmediately(&inbound) {
        case .handled:
            return nil
        case .passed:
            return deliverImmediately(inbound)
        case .suspended(let index):
            return { [self, inbound] in
                var inbound = inbound
                guard await table.inbound.runSuspending(&inbound, from: index) == .pass else { return }
                await deliverImmediately(inbound)?()
            }
        }
    }

    /// A local stanza past its inbound hooks: RFC 6121 §8.5.
    private func deliverImmediately(_ inbound: InboundStanza) -> RoutingRemainder? {
        if inbound.to.localpart == nil {
            return toServer(inbound)
        } else if inbound.to.resourcepart == nil {
            return toBareJID(inbound)
        } else {
            return toFullJID(inbound)
        }
    }

    // RFC 6120 §8.2.3: an IQ needs an id and a type; get and set carry exactly one payload.
    private static func iqShapeProblem(_ stanza: Stanza) -> StanzaError? {
        switch stanza.type {
        case "get", "set":
            if stanza.id == nil || stanza.id!.isEmpty { return StanzaError(.badRequest, text: "an IQ needs an id") }
            if stanza.element.elements.count != 1 { return StanzaError(.badRequest, text: "an IQ get or set carries exactly one payload") }
            return nil
        case "result", "error":
            return stanza.id == nil ? StanzaError(.badRequest, text: "an IQ needs an id") : nil
        default:
            return StanzaError(.badRequest, text: "an IQ needs a type of get, set, result or error")
        }
    }

    private func toServer(_ inbound: InboundStanza) -> RoutingRemainder? {
        switch inbound.stanza.kind {
        case .iq:
            return { [self] in await dispatchIQ(inbound, target: .server) }
        case .message, .presence:
            // RFC 6121 §8.5.1 lets the server ignore what no module handled.
            return nil
        }
    }

    private func toBareJID(_ inbound: InboundStanza) -> RoutingRemainder? {
        let stanza = inbound.stanza
        switch stanza.kind {
        case .iq:
            // RFC 6121 §8.5.1: no such account → service-unavailable; otherwise the server answers
            // on the account's behalf (§8.5.2.1.3, §8.5.2.2.3).
            return { [self] in
                guard await accountExists(inbound.to) else {
                    bounce(stanza, StanzaError(.serviceUnavailable))
                    return
                }
                await dispatchIQ(inbound, target: .account)
            }
        case .message:
            return deliverMessageToBareJID(inbound)
        case .presence:
            // RFC 6121 §8.5.2.1.2: presence to a bare JID goes to every available resource.
            // (Subscription handling and probes belong to the presence module's inbound hook.)
            for session in sessions.sessions(for: inbound.to) where session.isAvailable {
                deliver(stanza.element, to: session)
            }
            return nil
        }
    }

    private func toFullJID(_ inbound: InboundStanza) -> RoutingRemainder? {
        let stanza = inbound.stanza
        if let session = sessions.session(for: inbound.to) {
            // RFC 6121 §8.5.3.1: an online resource gets it.
            deliver(stanza.element, to: session)
            return stanza.kind == .message ? runDeliveredHooks(inbound, [session]) : nil
        }
        switch stanza.kind {
        case .message:
            // RFC 6121 §8.5.3.2.1: normal, chat and headline go to the bare JID; groupchat gets an error.
            switch stanza.type ?? "normal" {
            case "groupchat":
                bounce(stanza, StanzaError(.serviceUnavailable))
                return nil
            case "error":
                return nil
            default:
                return deliverMessageToBareJID(inbound)
            }
        case .iq:
            // RFC 6121 §8.5.3.2.2 (and §8.5.1 when the account does not exist).
            bounce(stanza, StanzaError(.serviceUnavailable))
            return nil
        case .presence:
            // RFC 6121 §8.5.3.2.3: ignored.
            return nil
        }
    }

    /// RFC 6121 §8.5.2: messages to a bare JID go to the available resources with the highest
    /// non-negative priority; with none, they are "offline" (§8.5.2.2).
    private func deliverMessageToBareJID(_ inbound: InboundStanza) -> RoutingRemainder? {
        let stanza = inbound.stanza
        let type = stanza.type ?? "normal"
        if type == "error" { return nil }
        if type == "groupchat" {
            // §8.5.2.1.1: groupchat to a bare JID is an error.
            bounce(stanza, StanzaError(.serviceUnavailable))
            return nil
        }
        // Headlines go to every available resource with a non-negative priority; other types to
        // those of the highest priority (a user's resources are one to a few: one pass, no copies).
        var targets: [LocalSession] = []
        var highest = Int.min
        for session in sessions.sessions(for: inbound.to) {
            guard let priority = session.deliveryPriority, priority >= 0 else { continue }
            if type != "headline" {
                if priority < highest { continue }
                if priority > highest {
                    highest = priority
                    targets.removeAll(keepingCapacity: true)
                }
            }
            targets.append(session)
        }
        guard !targets.isEmpty else {
            return { [self] in await deliverOfflineMessage(inbound) }
        }
        for session in targets { deliver(stanza.element, to: session) }
        return runDeliveredHooks(inbound, targets)
    }

    /// §8.5.2.2: a message for an account with no available resource.
    private func deliverOfflineMessage(_ inbound: InboundStanza) async {
        let stanza = inbound.stanza
        guard await accountExists(inbound.to) else {
            bounce(stanza, StanzaError(.serviceUnavailable))
            return
        }
        if stanza.type == "headline" { return } // §8.5.2.2.1: headlines are not stored
        for entry in table.undeliverable {
            if await entry.hook(inbound) { return }
        }
        bounce(stanza, StanzaError(.serviceUnavailable))
    }

    private func runDeliveredHooks(_ inbound: InboundStanza, _ sessions: [LocalSession]) -> RoutingRemainder? {
        let hooks = table.delivered
        for index in hooks.indices {
            if let immediate = hooks[index].hook.immediate, immediate(inbound, sessions) { continue }
            return { [self] in
                for entry in table.delivered[index...] { await entry.hook.hook(inbound, sessions) }
            }
        }
        return nil
    }

    private func dispatchIQ(_ inbound: InboundStanza, target: IQTarget) async {
        let stanza = inbound.stanza
        guard let type = stanza.type.flatMap(IQType.init(rawValue:)) else {
            // Result and error IQs to the server or to the sender's own account (a client that omits
            // `to`, RFC 6120 §10.3) answer requests the server sent, or end here.
            if let id = stanza.id { pendingIQs.complete(id: id, from: inbound.from, with: stanza.element) }
            return
        }
        guard let payload = stanza.element.elements.first,
              let handler = table.iqHandlers[IQHandlerKey(namespace: payload.namespace, name: payload.name, type: type, target: target)] else {
            // RFC 6120 §8.4: nothing serves this payload.
            bounce(stanza, StanzaError(.serviceUnavailable))
            return
        }
        let request = IQRequest(stanza: stanza, from: inbound.from, to: inbound.to, payload: payload)
        let reply: XElement
        switch await handler(request) {
        case .success(let result): reply = stanza.iqResult(payload: result, from: inbound.to.description)
        case .failure(let error): reply = stanza.errorReply(error, from: inbound.to.description)
        }
        await send(reply)
    }

    // MARK: Delivery

    /// Sends an IQ get/set from the server (its `from` must be a served domain) and waits for the
    /// reply; nil when none came within `timeout`.
    public func request(_ iq: XElement, timeout: Duration) async -> XElement? {
        var iq = iq
        let id = "parley-" + RandomID.make(length: 12)
        iq[attribute: "id"] = id
        guard let to = iq[attribute: "to"].flatMap({ try? JID($0) }) else { return nil }
        let element = iq
        return await withCheckedContinuation { continuation in
            pendingIQs.register(id: id, responder: to, continuation: continuation)
            pendingIQs.setTimer(id: id, Task { [pendingIQs] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { pendingIQs.expire(id: id) }
            })
            Task { await send(element) }
        }
    }

    /// Sends a stanza the server generated (a reply, a push, a broadcast) to its `to`, local or remote.
    /// Replies to local full JIDs go straight to the session; everything else is dispatched.
    public func send(_ element: XElement) async {
        guard let stanza = Stanza(element) else { return }
        if let toString = stanza.toString, let to = try? JID(toString), to.resourcepart != nil, isLocal(to),
           stanza.kind == .iq || stanza.isError {
            if let session = sessions.session(for: to) { deliver(element, to: session) }
            return
        }
        await dispatch(stanza)
    }

    /// Delivers to one session, unless a delivery filter (blocking, privacy) refuses it.
    public func deliver(_ element: XElement, to session: LocalSession) {
        if !table.deliveryFilters.isEmpty, let stanza = Stanza(element) {
            for filter in table.deliveryFilters where !filter(stanza, session) { return }
        }
        session.transport.deliver(element)
    }

    /// Sends an error reply to the stanza's sender, never answering an error with an error (RFC 6120 §8.3.1).
    public func bounce(_ stanza: Stanza, _ error: StanzaError) {
        guard !stanza.isError, !(stanza.kind == .iq && stanza.type == "result"),
              let fromString = stanza.fromString, let sender = try? JID(fromString) else { return }
        let reply = stanza.errorReply(error, from: stanza.toString ?? sender.domainpart)
        if isLocal(sender) {
            if sender.resourcepart != nil, let session = sessions.session(for: sender) {
                session.transport.deliver(reply)
            }
        } else if let remote, let replyStanza = Stanza(reply) {
            remote.send(replyStanza, to: sender.domainpart)
        }
    }
}
