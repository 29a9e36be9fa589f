import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML

/// Client-to-server stream negotiation (RFC 6120 §4–§7) as a pure state machine.
///
/// Each method takes one event and returns the actions the driver must perform, in order.
/// The machine never touches sockets, clocks or storage: those are the driver's.
public struct C2SStateMachine: Sendable {
    public enum Action: Sendable, Hashable {
        case sendStreamHeader(StreamHeader)
        case send(XElement)
        case sendStreamClose
        /// `<proceed/>` has been queued: flush it, refuse any bytes already buffered, add TLS, use a fresh parser.
        case startTLS(host: String)
        /// The stream restarts (after SASL success): use a fresh parser with post-authentication limits.
        case resetParser(authenticated: Bool)
        /// Look up the account's SCRAM credential, then call `credentialsLoaded(_:)`.
        case lookupCredentials(username: String, host: String, hash: SCRAMHash)
        case authenticated(JID)
        case authenticationFailed(username: String?, condition: SASLFailure)
        /// Ask the session registry for a full JID (`resource` nil: generate one), then call `bindSucceeded`/`bindFailed`.
        case bind(JID, resource: String?)
        case sessionStarted(JID)
        /// XEP-0077: create this account (username not yet normalised), then call `registrationFinished`.
        case register(username: String, password: String, host: String)
        /// A stanza from the bound client, `from` stamped, to route.
        case route(Stanza)
        /// A first-level element that is not a stanza (stream management, CSI…), for modules.
        case nonStanza(XElement)
        case closeConnection
    }

    public enum State: Sendable, Hashable {
        case awaitingStreamOpen
        case negotiating
        case tlsHandshake
        case saslInProgress
        case awaitingCredentials
        case registering
        case authenticatedAwaitingBind
        case binding
        case active
        case closing
        case closed
    }

    public private(set) var state: State = .awaitingStreamOpen
    public private(set) var host: String?
    public private(set) var isSecure: Bool
    public private(set) var authenticatedUser: JID?
    public private(set) var boundJID: JID? {
        didSet { boundJIDString = boundJID?.description ?? "" }
    }
    /// Stamped on every stanza the session sends: written out once, at binding.
    private var boundJIDString = ""
    /// The stream id of the current stream, once sent.
    public private(set) var streamID: String?

    private let configuration: C2SConfiguration
    private var channelBinding: ChannelBinding?
    private var headerSent = false
    private var mechanism: (any SASLServerMechanism)?
    private var mechanismName: String?
    private var pendingUsername: String?
    private var failedAuthAttempts = 0
    private var pendingBindID: String?
    private var pendingRegistration: Stanza?
    private let makeStreamID: @Sendable () -> String

    /// `directTLS`: the connection started in TLS (XEP-0368); `channelBinding` is then the binding for it.
    public init(configuration: C2SConfiguration, directTLS: Bool = false, channelBinding: ChannelBinding? = nil,
                makeStreamID: @escaping @Sendable () -> String) {
        self.configuration = configuration
        self.isSecure = directTLS
        self.channelBinding = channelBinding
        self.makeStreamID = makeStreamID
    }

    public var isAuthenticated: Bool { authenticatedUser != nil }

    // MARK: Events

    public mutating func receive(_ event: StreamEvent) -> [Action] {
        switch event {
        case .open(let header): return streamOpened(header)
        case .element(let element): return elementReceived(element)
        case .close: return peerClosed()
        }
    }

    public mutating func streamOpened(_ header: StreamHeader) -> [Action] {
        guard state == .awaitingStreamOpen else {
            return fail(StreamError(.badFormat, text: "unexpected stream header"))
        }
        // RFC 6120 §4.8.1, §4.8.5: wrong stream or content namespace.
        guard header.streamNamespaceValid else {
            return fail(StreamError(.invalidNamespace, text: "the stream element must be in \(NS.streams)"))
        }
        guard header.contentNamespace == NS.client else {
            return fail(StreamError(.invalidNamespace, text: "the content namespace must be \(NS.client)"))
        }
        let requestedHost = header.to.flatMap { try? JID($0) }.flatMap { $0.isBare && $0.localpart == nil ? $0.domainpart : nil }
        if let existing = host {
            // RFC 6120 §4.3.3: a restarted stream must address the same host.
            guard requestedHost == existing || header.to == nil else {
                return fail(StreamError(.hostUnknown, text: "stream restarted for another host"))
            }
        } else if let requested = requestedHost {
            guard configuration.hosts.contains(requested) else {
                return fail(StreamError(.hostUnknown, text: "this server does not serve \(header.to ?? "")"))
            }
            host = requested
        } else if header.to != nil {
            return fail(StreamError(.hostUnknown, text: "this server does not serve \(header.to ?? "")"))
        } else {
            host = configuration.defaultHost
        }
        // RFC 6120 §4.7.5: we speak 1.0; no version means 0.9, which is not supported.
        guard header.speaksXMPP1 else {
            return fail(StreamError(.unsupportedVersion, text: "XMPP 1.0 is required"))
        }
        var actions = sendHeader(to: header.from)
        actions.append(.send(features()))
        state = isAuthenticated ? .authenticatedAwaitingBind : .negotiating
        return actions
    }

    public mutating func elementReceived(_ element: XElement) -> [Action] {
        switch state {
        case .awaitingStreamOpen:
            return fail(StreamError(.notWellFormed, text: "element before stream header"))
        case .tlsHandshake:
            // RFC 6120 §5.4.3.3 and the STARTTLS injection attacks: nothing may follow <starttls/> in plaintext.
            state = .closed
            return [.closeConnection]
        case .closing, .closed:
            return []
        case .negotiating:
            return negotiate(element)
        case .saslInProgress:
            return continueSASL(element)
        case .awaitingCredentials, .registering:
            return fail(StreamError(.policyViolation, text: "data sent while a request is being processed"))
        case .authenticatedAwaitingBind, .binding:
            return beforeBind(element)
        case .active:
            return active(element)
        }
    }

    public mutating func peerClosed() -> [Action] {
        switch state {
        case .closed:
            return []
        case .closing:
            state = .closed
            return [.closeConnection]
        default:
            // RFC 6120 §4.4: answer the peer's closing tag with ours, then close.
            state = .closed
            return headerSent ? [.sendStreamClose, .closeConnection] : [.closeConnection]
        }
    }

    /// The XML parser failed: the matching stream error, then close (RFC 6120 §4.9.3.13, §11.1).
    public mutating func parserFailed(_ error: XMLStreamError) -> [Action] {
        fail(StreamError(error))
    }

    /// The driver finished the TLS handshake after `.startTLS`.
    public mutating func tlsEstablished(channelBinding: ChannelBinding?) -> [Action] {
        guard state == .tlsHandshake else { return [] }
        isSecure = true
        self.channelBinding = channelBinding
        headerSent = false
        state = .awaitingStreamOpen
        return []
    }

    /// A direct-TLS connection (XEP-0368) finished its handshake; the binding depends on the certificate served.
    public mutating func directTLSEstablished(channelBinding: ChannelBinding?) {
        guard isSecure, state == .awaitingStreamOpen, !headerSent, host == nil else { return }
        self.channelBinding = channelBinding
    }

    /// The result of `.lookupCredentials` (nil: no such account).
    public mutating func credentialsLoaded(_ credential: SCRAMCredential?) -> [Action] {
        guard state == .awaitingCredentials, var mechanism else { return [] }
        let output = mechanism.provideCredentials(credential)
        self.mechanism = mechanism
        return handleSASL(output)
    }

    /// The driver refused authentication for policy reasons (too many failures from this address).
    public mutating func authenticationThrottled() -> [Action] {
        guard state == .awaitingCredentials || state == .saslInProgress else { return [] }
        mechanism = nil
        var actions: [Action] = [.send(Self.saslFailure(.temporaryAuthFailure, text: "too many failed attempts; try again later")),
                                 .authenticationFailed(username: pendingUsername, condition: .temporaryAuthFailure)]
        actions += fail(StreamError(.policyViolation, text: "too many failed authentication attempts"))
        return actions
    }

    public mutating func bindSucceeded(_ jid: JID) -> [Action] {
        guard state == .binding else { return [] }
        boundJID = jid
        state = .active
        var result = XElement("iq", namespace: NS.client, ["type": "result"])
        if let pendingBindID { result[attribute: "id"] = pendingBindID }
        var bind = XElement("bind", namespace: NS.bind)
        var jidElement = XElement("jid", namespace: NS.bind)
        jidElement.append(text: jid.description)
        bind.append(jidElement)
        result.append(bind)
        pendingBindID = nil
        return [.send(result), .sessionStarted(jid)]
    }

    public mutating func bindFailed(_ error: StanzaError) -> [Action] {
        guard state == .binding else { return [] }
        state = .authenticatedAwaitingBind
        var reply = XElement("iq", namespace: NS.client, ["type": "error"])
        if let pendingBindID { reply[attribute: "id"] = pendingBindID }
        reply.append(error.element)
        pendingBindID = nil
        return [.send(reply)]
    }

    /// The server ends the stream: replaced session (`conflict`), shutdown, timeout…
    public mutating func terminate(_ error: StreamError?) -> [Action] {
        switch state {
        case .closed, .closing: return []
        default:
            if let error { return fail(error) }
            state = .closing
            return [.sendStreamClose]
        }
    }

    // MARK: Negotiation

    private mutating func negotiate(_ element: XElement) -> [Action] {
        switch (element.namespace, element.name) {
        case (NS.tls, "starttls"):
            guard !isSecure, configuration.tlsAvailable, let host else {
                // RFC 6120 §5.4.2.2: failure, then close the stream.
                var actions: [Action] = [.send(XElement("failure", namespace: NS.tls))]
                state = .closed
                actions += [.sendStreamClose, .closeConnection]
                return actions
            }
            state = .tlsHandshake
            return [.send(XElement("proceed", namespace: NS.tls)), .startTLS(host: host)]
        case (NS.sasl, "auth"):
            return startSASL(element)
        case (NS.sasl, "abort"):
            return [.send(Self.saslFailure(.aborted))]
        default:
            if let stanza = Stanza(element), stanza.kind == .iq, element.child("query", namespace: NS.register) != nil {
                return register(stanza)
            }
            if Stanza(element) != nil {
                return fail(StreamError(.notAuthorized, text: "authenticate first"))
            }
            return fail(StreamError(.unsupportedStanzaType))
        }
    }

    // MARK: In-band registration before authentication (XEP-0077 §3.1)

    private var registrationOffered: Bool {
        guard let host else { return false }
        return configuration.registrationHosts.contains(host) && !tlsBlocksAuth
    }

    private mutating func register(_ stanza: Stanza) -> [Action] {
        guard registrationOffered, let host else {
            return [.send(stanza.errorReply(StanzaError(.serviceUnavailable, text: "in-band registration is not offered here")))]
        }
        let query = stanza.element.child("query", namespace: NS.register)!
        switch stanza.type {
        case "get":
            // XEP-0077 §3.1: the fields the server needs.
            var form = XElement("query", namespace: NS.register)
            var instructions = XElement("instructions", namespace: NS.register)
            instructions.append(text: "Choose a username and password for use with this service.")
            form.append(instructions)
            form.append(XElement("username", namespace: NS.register))
            form.append(XElement("password", namespace: NS.register))
            return [.send(stanza.iqResult(payload: form))]
        case "set":
            guard let username = query.child("username", namespace: NS.register)?.text, !username.isEmpty,
                  let password = query.child("password", namespace: NS.register)?.text, !password.isEmpty else {
                // XEP-0077 §3.1: required information missing.
                return [.send(stanza.errorReply(StanzaError(.notAcceptable, text: "username and password are required")))]
            }
            pendingRegistration = stanza
            state = .registering
            return [.register(username: username, password: password, host: host)]
        default:
            return [.send(stanza.errorReply(StanzaError(.badRequest)))]
        }
    }

    /// The outcome of `.register`.
    public mutating func registrationFinished(_ result: Result<Void, StanzaError>) -> [Action] {
        guard state == .registering, let stanza = pendingRegistration else { return [] }
        pendingRegistration = nil
        state = .negotiating
        switch result {
        case .success: return [.send(stanza.iqResult())]
        case .failure(let error): return [.send(stanza.errorReply(error))]
        }
    }

    private var tlsBlocksAuth: Bool { !isSecure && configuration.tlsRequired }

    private func offeredMechanisms() -> [String] {
        guard !tlsBlocksAuth else { return [] }
        let bindings = isSecure && channelBinding != nil ? [channelBinding!.type] : []
        return SASLMechanisms.serverMechanismNames(tls: isSecure, channelBindingTypes: bindings, plainAllowed: configuration.plainAllowed)
    }

    private mutating func startSASL(_ auth: XElement) -> [Action] {
        let name = auth[attribute: "mechanism"] ?? ""
        if tlsBlocksAuth {
            return failAttempt(.encryptionRequired, username: nil)
        }
        let offered = offeredMechanisms()
        guard offered.contains(name), var mechanism = makeMechanism(name, plusAdvertised: offered.contains { $0.hasSuffix("-PLUS") }) else {
            return failAttempt(.invalidMechanism, username: nil)
        }
        let initialResponse: [UInt8]?
        switch Self.decodeSASLPayload(auth.text) {
        case .none: initialResponse = nil
        case .some(.success(let bytes)): initialResponse = bytes
        case .some(.failure): return failAttempt(.incorrectEncoding, username: nil)
        }
        mechanismName = name
        pendingUsername = nil
        let output = mechanism.start(initialResponse: initialResponse)
        self.mechanism = mechanism
        state = .saslInProgress
        return handleSASL(output)
    }

    private mutating func continueSASL(_ element: XElement) -> [Action] {
        switch (element.namespace, element.name) {
        case (NS.sasl, "response"):
            guard var mechanism else { return failAttempt(.malformedRequest, username: pendingUsername) }
            let bytes: [UInt8]
            switch Self.decodeSASLPayload(element.text) {
            case .none: bytes = []
            case .some(.success(let decoded)): bytes = decoded
            case .some(.failure): return failAttempt(.incorrectEncoding, username: pendingUsername)
            }
            let output = mechanism.respond(bytes)
            self.mechanism = mechanism
            return handleSASL(output)
        case (NS.sasl, "abort"):
            mechanism = nil
            state = .negotiating
            return [.send(Self.saslFailure(.aborted)), .authenticationFailed(username: pendingUsername, condition: .aborted)]
        case (NS.sasl, "auth"):
            // RFC 6120 §6.4.2: a new <auth/> while one is in progress aborts the old one.
            mechanism = nil
            state = .negotiating
            return startSASL(element)
        default:
            return fail(StreamError(.notAuthorized, text: "authentication in progress"))
        }
    }

    private mutating func handleSASL(_ output: SASLServerOutput) -> [Action] {
        switch output {
        case .challenge(let bytes):
            state = .saslInProgress
            var challenge = XElement("challenge", namespace: NS.sasl)
            challenge.append(text: Self.base64(bytes))
            return [.send(challenge)]
        case .needCredentials(let username, let hash):
            pendingUsername = username
            state = .awaitingCredentials
            return [.lookupCredentials(username: username, host: host ?? configuration.defaultHost, hash: hash)]
        case .failure(let condition):
            return failAttempt(condition, username: pendingUsername)
        case .success(let additionalData, let username, let authzid):
            guard let host, let user = try? JID(localpart: username, domainpart: host, resourcepart: nil) else {
                return failAttempt(.notAuthorized, username: username)
            }
            // RFC 6120 §6.3.8: an authorization identity other than the user's own bare JID is not supported.
            if let authzid, !authzid.isEmpty, (try? JID(authzid)) != user {
                return failAttempt(.invalidAuthzid, username: username)
            }
            mechanism = nil
            authenticatedUser = user
            headerSent = false
            state = .awaitingStreamOpen
            var success = XElement("success", namespace: NS.sasl)
            if let additionalData { success.append(text: Self.base64(additionalData)) }
            return [.send(success), .authenticated(user), .resetParser(authenticated: true)]
        }
    }

    private mutating func failAttempt(_ condition: SASLFailure, username: String?) -> [Action] {
        mechanism = nil
        failedAuthAttempts += 1
        var actions: [Action] = [.send(Self.saslFailure(condition)), .authenticationFailed(username: username, condition: condition)]
        if failedAuthAttempts >= configuration.maxAuthAttempts {
            actions += fail(StreamError(.policyViolation, text: "too many failed authentication attempts"))
        } else {
            state = .negotiating
        }
        return actions
    }

    private func makeMechanism(_ name: String, plusAdvertised: Bool) -> (any SASLServerMechanism)? {
        if name == "PLAIN" { return PlainServer() }
        for hash in SCRAMHash.allCases {
            if name == hash.mechanismName(plus: false) {
                return SCRAMServer(hash: hash, plus: false, channelBinding: channelBinding, plusAdvertised: plusAdvertised,
                                   unknownUserIterations: configuration.scramIterations)
            }
            if name == hash.mechanismName(plus: true) {
                return SCRAMServer(hash: hash, plus: true, channelBinding: channelBinding, plusAdvertised: plusAdvertised,
                                   unknownUserIterations: configuration.scramIterations)
            }
        }
        return nil
    }

    // MARK: Resource binding (RFC 6120 §7)

    private mutating func beforeBind(_ element: XElement) -> [Action] {
        guard let stanza = Stanza(element), stanza.kind == .iq else {
            if Stanza(element) != nil {
                return fail(StreamError(.notAuthorized, text: "bind a resource first"))
            }
            return [.nonStanza(element)]
        }
        if let bind = element.child("bind", namespace: NS.bind), stanza.type == "set" {
            guard state == .authenticatedAwaitingBind, let user = authenticatedUser else {
                return [.send(stanza.errorReply(StanzaError(.unexpectedRequest)))]
            }
            let requested = bind.child("resource", namespace: NS.bind)?.text
            if let requested, !requested.isEmpty {
                // RFC 6120 §7.7.2.1: a resource that cannot be processed gets bad-request.
                guard (try? user.with(resource: requested)) != nil else {
                    return [.send(stanza.errorReply(StanzaError(.badRequest, text: "invalid resource")))]
                }
            }
            pendingBindID = stanza.id
            state = .binding
            return [.bind(user, resource: (requested?.isEmpty ?? true) ? nil : requested)]
        }
        if element.child("session", namespace: NS.session) != nil {
            return [.send(stanza.iqResult())]
        }
        return fail(StreamError(.notAuthorized, text: "bind a resource first"))
    }

    private mutating func active(_ element: XElement) -> [Action] {
        guard var stanza = Stanza(element) else {
            if element.namespace == NS.client || element.namespace == NS.sasl || element.namespace == NS.tls {
                return fail(StreamError(.unsupportedStanzaType))
            }
            return [.nonStanza(element)]
        }
        guard let boundJID else { return [] }
        // RFC 3921 §3: the deprecated session IQ is still answered for old clients.
        if stanza.kind == .iq, stanza.type == "set", element.child("session", namespace: NS.session) != nil,
           stanza.toString == nil || stanza.toString == boundJID.domainpart {
            return [.send(stanza.iqResult())]
        }
        // RFC 6120 §8.1.2.1: stamp `from`, or refuse a `from` that is not this session's.
        if let from = stanza.fromString {
            guard let claimed = try? JID(from), claimed == boundJID || claimed == boundJID.bare else {
                return fail(StreamError(.invalidFrom, text: "from does not match the session"))
            }
        }
        stanza.element[attribute: "from"] = boundJIDString
        return [.route(stanza)]
    }

    // MARK: Helpers

    private func features() -> XElement {
        var features = XElement("features", namespace: NS.streams)
        if isAuthenticated {
            features.append(XElement("bind", namespace: NS.bind))
            // RFC 6121 §1.2 / draft-cridland-xmpp-session: the session feature, marked optional.
            features.append(XElement("session", namespace: NS.session).appending(XElement("optional", namespace: NS.session)))
            for extra in configuration.extraFeaturesAfterAuth { features.append(extra) }
            return features
        }
        if !isSecure && configuration.tlsAvailable {
            var starttls = XElement("starttls", namespace: NS.tls)
            if configuration.tlsRequired { starttls.append(XElement("required", namespace: NS.tls)) }
            features.append(starttls)
        }
        let mechanisms = offeredMechanisms()
        if !mechanisms.isEmpty {
            var list = XElement("mechanisms", namespace: NS.sasl)
            for name in mechanisms {
                var mechanism = XElement("mechanism", namespace: NS.sasl)
                mechanism.append(text: name)
                list.append(mechanism)
            }
            features.append(list)
            // XEP-0440: advertise which channel-binding types the -PLUS mechanisms support.
            if isSecure, let channelBinding {
                features.append(XElement("sasl-channel-binding", namespace: NS.saslChannelBinding)
                    .appending(XElement("channel-binding", namespace: NS.saslChannelBinding, ["type": channelBinding.type])))
            }
            for extra in configuration.extraFeaturesBeforeAuth { features.append(extra) }
        }
        if registrationOffered {
            features.append(XElement("register", namespace: NS.registerFeature))
        }
        return features
    }

    private mutating func sendHeader(to peer: String?) -> [Action] {
        let id = makeStreamID()
        streamID = id
        headerSent = true
        let validPeer = peer.flatMap { try? JID($0) }?.description
        return [.sendStreamHeader(StreamHeader(to: validPeer, from: host ?? configuration.defaultHost, id: id))]
    }

    /// RFC 6120 §4.9.1.1: a stream error goes out after a stream header (ours, if not yet sent), then the stream closes.
    private mutating func fail(_ error: StreamError) -> [Action] {
        if state == .closed { return [] }
        var actions: [Action] = []
        if !headerSent { actions += sendHeader(to: nil) }
        actions += [.send(error.element), .sendStreamClose, .closeConnection]
        state = .closed
        return actions
    }

    static func saslFailure(_ condition: SASLFailure, text: String? = nil) -> XElement {
        condition.element(text: text)
    }


    /// RFC 6120 §6.4.2: empty content is "no data", `=` is an empty response, anything else is base64.
    static func decodeSASLPayload(_ text: String) -> Result<[UInt8], SASLFailure>? {
        // XML whitespace only (space, tab, CR, LF): base64 never contains anything else that a
        // Unicode-aware `Character.isWhitespace` would skip, and a byte scan is far cheaper.
        let trimmed = text.utf8.filter { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        if trimmed.isEmpty { return nil }
        if trimmed == [UInt8(ascii: "=")] { return .success([]) }
        guard let bytes = Base64.decode(trimmed) else { return .failure(.incorrectEncoding) }
        return .success(bytes)
    }

    static func base64(_ bytes: [UInt8]) -> String {
        bytes.isEmpty ? "=" : Base64.encodeString(bytes)
    }
}
