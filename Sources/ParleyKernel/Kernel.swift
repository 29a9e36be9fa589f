import Logging
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Hosts, sessions, and the routing of stanzas between them (RFC 6120 §10, RFC 6121 §8).
public final class Kernel: Sendable {
    public let hosts: Set<String>
    public let sessions: any SessionRegistry
    private let iqHandlers: [IQHandlerKey: IQHandler]
    public let serverFeatures: [String]
    public let accountFeatures: [String]
    private let logger: Logger

    public init(hosts: Set<String>, sessions: any SessionRegistry = LocalSessionRegistry(), modules: [any Module], logger: Logger) {
        self.hosts = hosts
        self.sessions = sessions
        self.logger = logger
        let registrar = ModuleRegistrar()
        for module in modules { module.register(in: registrar) }
        iqHandlers = registrar.iqHandlers
        serverFeatures = registrar.serverFeatures
        accountFeatures = registrar.accountFeatures
    }

    /// Work that must finish before the sender's next stanza is routed (RFC 6120 §10.1: in order).
    public typealias PendingWork = @Sendable () async -> Void

    /// Routes a stanza from a bound local session (its `from` already stamped). Returns async work when
    /// a handler has to run; the caller runs it before routing this session's next stanza.
    public func route(_ stanza: Stanza, from sender: JID) -> PendingWork? {
        if stanza.kind == .iq, let problem = Self.iqShapeProblem(stanza) {
            bounce(stanza, problem, to: sender)
            return nil
        }
        let to: JID
        if let toString = stanza.toString {
            guard let parsed = try? JID(toString) else {
                bounce(stanza, StanzaError(.jidMalformed), to: sender)
                return nil
            }
            to = parsed
        } else {
            // RFC 6120 §10.3: no `to` means the stanza is for the sender's own account, handled by the server.
            to = sender.bare
        }
        guard hosts.contains(to.domainpart) else {
            // Federation arrives with s2s; until a remote domain can be reached, say so (RFC 6120 §8.3.3.15).
            bounce(stanza, StanzaError(.remoteServerNotFound), to: sender)
            return nil
        }
        if to.localpart == nil {
            return routeToServer(stanza, to: to, from: sender)
        }
        if to.resourcepart == nil {
            return routeToBareJID(stanza, to: to, from: sender)
        }
        routeToFullJID(stanza, to: to, from: sender)
        return nil
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

    private func routeToServer(_ stanza: Stanza, to: JID, from sender: JID) -> PendingWork? {
        switch stanza.kind {
        case .iq:
            return dispatchIQ(stanza, to: to, from: sender, target: .server)
        case .message, .presence:
            // Messages and presence to the server itself have no handler yet; RFC 6121 §8.5.1 lets the server ignore them.
            return nil
        }
    }

    private func routeToBareJID(_ stanza: Stanza, to: JID, from sender: JID) -> PendingWork? {
        switch stanza.kind {
        case .iq:
            // RFC 6121 §8.5.2.1.3 / §8.5.3: the server answers IQs to a bare JID on the account's behalf.
            return dispatchIQ(stanza, to: to, from: sender, target: .account)
        case .message:
            let targets = sessions.sessions(for: to)
            if targets.isEmpty {
                bounce(stanza, StanzaError(.serviceUnavailable), to: sender)
            } else {
                for session in targets { session.deliver(stanza.element) }
            }
            return nil
        case .presence:
            return nil
        }
    }

    private func routeToFullJID(_ stanza: Stanza, to: JID, from sender: JID) {
        if let session = sessions.session(for: to) {
            session.deliver(stanza.element)
            return
        }
        switch stanza.kind {
        case .message:
            // RFC 6121 §8.5.3.2.1: a message to an unavailable resource is treated as sent to the bare JID.
            let targets = sessions.sessions(for: to.bare)
            if targets.isEmpty {
                bounce(stanza, StanzaError(.serviceUnavailable), to: sender)
            } else {
                for session in targets { session.deliver(stanza.element) }
            }
        case .iq:
            bounce(stanza, StanzaError(.serviceUnavailable), to: sender)
        case .presence:
            // RFC 6121 §8.5.3.2.3: presence to an unavailable resource is silently ignored.
            break
        }
    }

    private func dispatchIQ(_ stanza: Stanza, to: JID, from sender: JID, target: IQTarget) -> PendingWork? {
        guard let type = stanza.type.flatMap(IQType.init(rawValue:)) else {
            return nil // result and error IQs addressed to the server end here
        }
        guard let payload = stanza.element.elements.first,
              let handler = iqHandlers[IQHandlerKey(namespace: payload.namespace, name: payload.name, type: type, target: target)] else {
            // RFC 6120 §8.4: nothing serves this payload.
            bounce(stanza, StanzaError(.serviceUnavailable), to: sender)
            return nil
        }
        let request = IQRequest(stanza: stanza, from: sender, to: to, payload: payload)
        return { [self] in
            let reply: XElement
            switch await handler(request) {
            case .success(let result): reply = stanza.iqResult(payload: result, from: to.description)
            case .failure(let error): reply = stanza.errorReply(error, from: to.description)
            }
            deliver(reply, to: sender)
        }
    }

    /// Sends an error reply to the sender, never answering an error with an error (RFC 6120 §8.3.1).
    public func bounce(_ stanza: Stanza, _ error: StanzaError, to sender: JID) {
        guard !stanza.isError else { return }
        if stanza.kind == .iq, stanza.type == "result" { return }
        let from = stanza.toString ?? sender.domainpart
        deliver(stanza.errorReply(error, from: from), to: sender)
    }

    /// Delivers to a full JID's session, if it is still online.
    public func deliver(_ element: XElement, to jid: JID) {
        guard let session = sessions.session(for: jid) else {
            logger.debug("dropping stanza for offline session", metadata: ["to": "\(jid)"])
            return
        }
        session.deliver(element)
    }
}

extension Kernel {
    /// Binds a resource (RFC 6120 §7). A session already bound to that full JID is told `conflict`
    /// and replaced (§7.7.2.2, the "override" policy ejabberd and Prosody use by default).
    public func bind(user: JID, resource: String?, makeSession: (JID) -> any SessionHandle) -> any SessionHandle {
        let (session, replaced) = sessions.bind(user: user, resource: resource, makeSession: makeSession)
        if let replaced {
            logger.info("session replaced by a new login", metadata: ["jid": "\(session.jid)"])
            replaced.terminate(StreamError(.conflict, text: "replaced by a new session"))
        }
        return session
    }

    /// The session's stream ended, cleanly or not.
    public func unbind(_ session: any SessionHandle) {
        sessions.unbind(session)
    }
}
