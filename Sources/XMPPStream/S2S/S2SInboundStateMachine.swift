import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML

/// The receiving side of a server-to-server stream (RFC 6120 §4–§6, §13.7; XEP-0220; XEP-0178).
/// A pure state machine: events in, actions out.
public struct S2SInboundStateMachine: Sendable {
    public enum Action: Sendable, Hashable {
        case sendStreamHeader(StreamHeader)
        case send(XElement)
        case sendStreamClose
        /// `<proceed/>` queued: flush it, refuse buffered plaintext, add server TLS (requesting a client certificate).
        case startTLS(host: String)
        /// The stream restarts (after SASL success): use a fresh parser.
        case resetParser
        /// XEP-0220 §2.1.2: ask `remote`'s authoritative server whether `key` is genuine, then call
        /// `dialbackVerified(remote:local:valid:)`.
        case verifyDialback(remote: String, local: String, key: String, streamID: String)
        case authenticated(DomainPair, S2SAuthMethod)
        /// XEP-0288: we may now send stanzas from `pair.local` to `pair.remote` over this stream.
        case reverseRouteReady(DomainPair)
        case authenticationFailed(remote: String, reason: String)
        /// A stanza from an authenticated remote domain to a local one.
        case deliver(Stanza)
        case closeConnection
    }

    public enum State: Sendable, Hashable {
        case awaitingStreamOpen, negotiating, tlsHandshake, closing, closed
    }

    public private(set) var state: State = .awaitingStreamOpen
    public private(set) var isSecure: Bool
    public private(set) var streamID: String?
    /// The remote domain named in the peer's stream header `from`, if any.
    public private(set) var peerDomain: String?
    public private(set) var localHost: String?
    public private(set) var authorized: Set<DomainPair> = []
    /// Pairs for which `.verifyDialback` was issued and not yet answered.
    public private(set) var pendingDialback: Set<DomainPair> = []

    private let configuration: S2SConfiguration
    private var certificate = PeerCertificateStatus.none
    private var headerSent = false
    private var saslAuthenticated = false
    /// XEP-0288: the peer asked for a bidirectional stream.
    public private(set) var isBidirectional = false
    private let makeStreamID: @Sendable () -> String

    public init(configuration: S2SConfiguration, directTLS: Bool = false, makeStreamID: @escaping @Sendable () -> String) {
        self.configuration = configuration
        self.isSecure = directTLS
        self.makeStreamID = makeStreamID
    }

    // MARK: Events

    public mutating func receive(_ event: StreamEvent) -> [Action] {
        switch event {
        case .open(let header): streamOpened(header)
        case .element(let element): elementReceived(element)
        case .close: peerClosed()
        }
    }

    public mutating func streamOpened(_ header: StreamHeader) -> [Action] {
        guard state == .awaitingStreamOpen else { return fail(StreamError(.badFormat, text: "unexpected stream header")) }
        guard header.streamNamespaceValid, header.contentNamespace == NS.server else {
            return fail(StreamError(.invalidNamespace, text: "a server stream must use \(NS.server)"))
        }
        guard let to = header.to.flatMap({ try? JID($0) }), to.localpart == nil, to.resourcepart == nil,
              configuration.hosts.contains(to.domainpart) else {
            return fail(StreamError(.hostUnknown, text: "this server does not serve \(header.to ?? "(none)")"))
        }
        if let existing = localHost, existing != to.domainpart {
            return fail(StreamError(.hostUnknown, text: "stream restarted for another host"))
        }
        localHost = to.domainpart
        if let from = header.from {
            guard let fromJID = try? JID(from), fromJID.localpart == nil, fromJID.resourcepart == nil else {
                return fail(StreamError(.invalidFrom, text: "the stream's from must be a domain"))
            }
            peerDomain = fromJID.domainpart
        }
        guard header.speaksXMPP1 else {
            return fail(StreamError(.unsupportedVersion, text: "XMPP 1.0 is required"))
        }
        var actions = sendHeader(replyingTo: header)
        actions.append(.send(features()))
        state = .negotiating
        return actions
    }

    public mutating func elementReceived(_ element: XElement) -> [Action] {
        switch state {
        case .awaitingStreamOpen:
            return fail(StreamError(.notWellFormed, text: "element before stream header"))
        case .tlsHandshake:
            state = .closed
            return [.closeConnection]
        case .closing, .closed:
            return []
        case .negotiating:
            break
        }
        switch (element.namespace, element.name) {
        case (NS.tls, "starttls"):
            guard !isSecure, configuration.tlsAvailable, let localHost else {
                state = .closed
                return [.send(XElement("failure", namespace: NS.tls)), .sendStreamClose, .closeConnection]
            }
            state = .tlsHandshake
            return [.send(XElement("proceed", namespace: NS.tls)), .startTLS(host: localHost)]
        case (NS.sasl, "auth"):
            return saslExternal(element)
        case (NS.sasl, "abort"):
            return [.send(Self.saslFailure(.aborted))]
        case (NS.bidi, "bidi"):
            // XEP-0288 §2: after TLS (when TLS is used), before authentication.
            guard configuration.bidi, isSecure || !configuration.tlsRequired, authorized.isEmpty else {
                return fail(StreamError(.policyViolation, text: "bidirectional streams must be requested after TLS and before authentication"))
            }
            isBidirectional = true
            return []
        case (NS.dialback, "result"):
            return dialbackResult(element)
        case (NS.dialback, "verify"):
            return dialbackVerify(element)
        default:
            guard let stanza = Stanza(element) else {
                return fail(StreamError(.unsupportedStanzaType))
            }
            return incomingStanza(stanza)
        }
    }

    public mutating func peerClosed() -> [Action] {
        switch state {
        case .closed: return []
        case .closing:
            state = .closed
            return [.closeConnection]
        default:
            state = .closed
            return headerSent ? [.sendStreamClose, .closeConnection] : [.closeConnection]
        }
    }

    public mutating func parserFailed(_ error: XMLStreamError) -> [Action] {
        fail(StreamError(error))
    }

    /// The TLS handshake finished; `certificate` says what the peer presented.
    public mutating func tlsEstablished(certificate: PeerCertificateStatus) -> [Action] {
        guard state == .tlsHandshake || (isSecure && state == .awaitingStreamOpen) else { return [] }
        isSecure = true
        self.certificate = certificate
        headerSent = false
        state = .awaitingStreamOpen
        return []
    }

    /// The answer to `.verifyDialback`.
    public mutating func dialbackVerified(remote: String, local: String, valid: Bool) -> [Action] {
        let pair = DomainPair(remote: remote, local: local)
        // XEP-0220 §5 (unsolicited dialback): only answers to a verification this stream asked for count.
        guard state == .negotiating, pendingDialback.remove(pair) != nil else { return [] }
        if valid {
            authorized.insert(pair)
            var actions: [Action] = [.send(Dialback.result(from: local, to: remote, type: "valid")), .authenticated(pair, .dialback)]
            // XEP-0288 §2: with dialback, the inverse of the verified pair.
            if isBidirectional { actions.append(.reverseRouteReady(pair)) }
            return actions
        }
        // XEP-0220 §2.1.3: an invalid key ends the stream.
        var actions: [Action] = [.send(Dialback.result(from: local, to: remote, type: "invalid")),
                                 .authenticationFailed(remote: remote, reason: "dialback key not verified")]
        actions += fail(StreamError(.notAuthorized, text: "dialback verification failed"))
        return actions
    }

    /// The authoritative server of `remote` could not be asked (no link could be set up): XEP-0220
    /// §2.6 answers with a non-fatal error result, and the stream stays open.
    public mutating func dialbackUnverifiable(remote: String, local: String, condition: StanzaErrorCondition) -> [Action] {
        let pair = DomainPair(remote: remote, local: local)
        guard state == .negotiating, pendingDialback.remove(pair) != nil else { return [] }
        return [.send(Dialback.errorResult("result", from: local, to: remote, condition: condition)),
                .authenticationFailed(remote: remote, reason: "could not reach the authoritative server (\(condition.rawValue))")]
    }

    /// The server ends the stream (shutdown, idle timeout…).
    public mutating func terminate(_ error: StreamError?) -> [Action] {
        switch state {
        case .closed, .closing: return []
        default:
            if let error { return fail(error) }
            state = .closing
            return [.sendStreamClose]
        }
    }

    // MARK: Authentication

    /// XEP-0178 §3: SASL EXTERNAL with a certificate valid for the stream's `from` domain (or the authzid).
    private mutating func saslExternal(_ auth: XElement) -> [Action] {
        guard auth[attribute: "mechanism"] == "EXTERNAL", isSecure, let localHost else {
            return [.send(Self.saslFailure(.invalidMechanism))]
        }
        let payload = auth.text.filter { !$0.isWhitespace }
        var identity = peerDomain
        if !payload.isEmpty && payload != "=" {
            guard let bytes = Base64.decode(Array(payload.utf8)) else { return [.send(Self.saslFailure(.incorrectEncoding))] }
            identity = String(decoding: bytes, as: UTF8.self)
        }
        guard let domain = identity.flatMap({ try? JID($0) }), domain.localpart == nil, domain.resourcepart == nil,
              peerDomain == nil || peerDomain == domain.domainpart else {
            return [.send(Self.saslFailure(.invalidAuthzid))]
        }
        guard certificate.isValid(domain.domainpart) else {
            return [.send(Self.saslFailure(.notAuthorized)),
                    .authenticationFailed(remote: domain.domainpart, reason: "certificate not valid for the domain")]
        }
        let pair = DomainPair(remote: domain.domainpart, local: localHost)
        authorized.insert(pair)
        saslAuthenticated = true
        peerDomain = domain.domainpart
        headerSent = false
        state = .awaitingStreamOpen
        var actions: [Action] = [.send(XElement("success", namespace: NS.sasl)), .authenticated(pair, .certificate), .resetParser]
        // XEP-0288 §2: after SASL we may send from the stream's `to` to the authenticated domain.
        if isBidirectional { actions.append(.reverseRouteReady(pair)) }
        return actions
    }

    /// XEP-0220 §2.1.2: the peer asks to be authorised for (from → to) with a key.
    private mutating func dialbackResult(_ element: XElement) -> [Action] {
        guard element[attribute: "type"] == nil else { return [] }
        guard let fromString = element[attribute: "from"], let from = try? JID(fromString), from.localpart == nil, from.resourcepart == nil,
              let toString = element[attribute: "to"], let to = try? JID(toString) else {
            return fail(StreamError(.improperAddressing, text: "dialback needs from and to domains"))
        }
        guard configuration.hosts.contains(to.domainpart) else {
            return [.send(Dialback.errorResult("result", from: toString, to: fromString, condition: .itemNotFound))]
        }
        if configuration.tlsRequired && !isSecure {
            return [.send(Dialback.errorResult("result", from: toString, to: fromString, condition: .policyViolation))]
        }
        let pair = DomainPair(remote: from.domainpart, local: to.domainpart)
        if certificate.isValid(from.domainpart) {
            // XEP-0344 §2.3: a certificate valid for the domain makes the verification round trip unnecessary.
            authorized.insert(pair)
            var actions: [Action] = [.send(Dialback.result(from: to.domainpart, to: from.domainpart, type: "valid")),
                                     .authenticated(pair, .dialbackWithCertificate)]
            if isBidirectional { actions.append(.reverseRouteReady(pair)) }
            return actions
        }
        guard configuration.allowDialback else {
            // Policy: only a valid certificate authenticates (XEP-0178 §3, "require valid certificate").
            return [.send(Dialback.errorResult("result", from: to.domainpart, to: from.domainpart, condition: .notAuthorized)),
                    .authenticationFailed(remote: from.domainpart, reason: "no valid certificate and dialback is not allowed")]
        }
        guard let streamID else { return [] }
        pendingDialback.insert(pair)
        return [.verifyDialback(remote: from.domainpart, local: to.domainpart, key: element.text, streamID: streamID)]
    }

    /// XEP-0220 §2.2: the peer, acting as a receiving server, asks us (the authoritative server) about a key.
    private func dialbackVerify(_ element: XElement) -> [Action] {
        guard element[attribute: "type"] == nil, let from = element[attribute: "from"], let to = element[attribute: "to"],
              let id = element[attribute: "id"] else { return [] }
        // Domain names compare case-insensitively (RFC 7622 §3.2): verify against the normalised names
        // the key was generated with.
        guard let target = Self.domain(to), configuration.hosts.contains(target) else {
            return [.send(Dialback.errorResult("verify", from: to, to: from, id: id, condition: .itemNotFound))]
        }
        let receiving = Self.domain(from) ?? from
        let valid = configuration.dialbackKey.verify(element.text, receiving: receiving, originating: target, streamID: id)
        return [.send(Dialback.verify(from: to, to: from, id: id, type: valid ? "valid" : "invalid"))]
    }

    // MARK: Stanzas

    private mutating func incomingStanza(_ stanza: Stanza) -> [Action] {
        // RFC 6120 §8.1.1.2 and §8.1.2.2: both addresses are required and must match an authorised pair.
        guard let fromString = stanza.fromString, let from = try? JID(fromString) else {
            return fail(StreamError(.improperAddressing, text: "a stanza between servers needs from"))
        }
        guard let toString = stanza.toString, let to = try? JID(toString) else {
            return fail(StreamError(.improperAddressing, text: "a stanza between servers needs to"))
        }
        guard configuration.hosts.contains(to.domainpart) else {
            return fail(StreamError(.hostUnknown, text: "this server does not serve \(to.domainpart)"))
        }
        guard authorized.contains(DomainPair(remote: from.domainpart, local: to.domainpart)) else {
            return fail(StreamError(.invalidFrom, text: "\(from.domainpart) is not authenticated on this stream"))
        }
        if configuration.tlsRequired && !isSecure {
            return fail(StreamError(.policyViolation, text: "TLS is required"))
        }
        return [.deliver(stanza)]
    }

    // MARK: Helpers

    private func features() -> XElement {
        var features = XElement("features", namespace: NS.streams)
        if saslAuthenticated { return features }
        if !isSecure && configuration.tlsAvailable {
            var starttls = XElement("starttls", namespace: NS.tls)
            if configuration.tlsRequired { starttls.append(XElement("required", namespace: NS.tls)) }
            features.append(starttls)
        }
        // XEP-0178 §4: EXTERNAL only when the certificate authenticates the domain the peer named.
        if isSecure, certificate.presented, peerDomain.map(certificate.isValid) ?? true {
            features.append(XElement("mechanisms", namespace: NS.sasl)
                .appending(XElement("mechanism", namespace: NS.sasl, children: [.text("EXTERNAL")])))
        }
        if isSecure || !configuration.tlsRequired {
            features.append(Dialback.feature)
        }
        // XEP-0288 §2: advertised before and after TLS.
        if configuration.bidi {
            features.append(XElement("bidi", namespace: NS.bidiFeature))
        }
        return features
    }

    private mutating func sendHeader(replyingTo header: StreamHeader?) -> [Action] {
        let id = makeStreamID()
        streamID = id
        headerSent = true
        var reply = StreamHeader(to: peerDomain, from: localHost ?? configuration.hosts.sorted().first, id: id,
                                 contentNamespace: NS.server)
        reply.declaresDialback = true
        return [.sendStreamHeader(reply)]
    }

    private mutating func fail(_ error: StreamError) -> [Action] {
        if state == .closed { return [] }
        var actions: [Action] = []
        if !headerSent { actions += sendHeader(replyingTo: nil) }
        actions += [.send(error.element), .sendStreamClose, .closeConnection]
        state = .closed
        return actions
    }

    /// The normalised domain of a bare domain JID, or nil.
    private static func domain(_ string: String) -> String? {
        guard let jid = try? JID(string), jid.localpart == nil, jid.resourcepart == nil else { return nil }
        return jid.domainpart
    }

    static func saslFailure(_ condition: SASLFailure) -> XElement {
        condition.element()
    }
}
