import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML

/// The initiating side of a server-to-server stream from `local` to `remote` (RFC 6120 §4–§6;
/// XEP-0178 SASL EXTERNAL, XEP-0220 dialback). Also carries `<db:verify/>` requests for the inbound
/// side, which XEP-0220 §2.1.2 sends over a connection to the peer's authoritative server.
public struct S2SOutboundStateMachine: Sendable {
    public enum Action: Sendable, Hashable {
        case sendStreamHeader(StreamHeader)
        case send(XElement)
        case sendStreamClose
        /// `<proceed/>` arrived: add client TLS (SNI = remote domain, our certificate as client certificate).
        case startTLS
        case resetParser
        /// The stream may carry stanzas from `local` to `remote` now.
        case ready(S2SAuthMethod)
        /// XEP-0288: a stanza the peer sent back over our bidirectional stream (from `remote` to `local`).
        case deliver(Stanza)
        /// An answer to a `<db:verify/>` we sent for the inbound side.
        case verifyAnswered(id: String, remote: String, local: String, valid: Bool)
        /// Negotiation failed; queued stanzas bounce with this condition.
        case failed(StanzaErrorCondition, reason: String)
        case closeConnection
    }

    public enum State: Sendable, Hashable {
        case idle, awaitingStreamOpen, awaitingFeatures, tlsRequested, tlsHandshake, saslExternal, dialback, ready, closing, closed
    }

    public let local: String
    public let remote: String
    public private(set) var state: State = .idle
    public private(set) var isSecure: Bool
    public private(set) var authMethod: S2SAuthMethod?
    private let configuration: S2SConfiguration
    private var peerStreamID: String?
    /// The peer supports dialback: `xmlns:db` on its header (XEP-0220 §2.5.1) or the dialback stream feature.
    private var peerOffersDialback = false
    private var triedExternal = false
    private var pendingVerifies: [XElement] = []
    /// Ids of `<db:verify/>` requests sent and not yet answered. Answers that match none are dropped
    /// (XEP-0220 §2.1.2 and §5, "unsolicited dialback"); on failure they are answered as invalid.
    private var outstandingVerifies: [String] = []

    public init(configuration: S2SConfiguration, local: String, remote: String, directTLS: Bool = false) {
        self.configuration = configuration
        self.local = local
        self.remote = remote
        self.isSecure = directTLS
    }

    public var isReady: Bool { state == .ready }
    /// XEP-0288: the peer may send its stanzas for (remote → local) over this stream too.
    public private(set) var isBidirectional = false

    /// The TCP (or direct TLS) connection is up: open the stream.
    public mutating func connected() -> [Action] {
        guard state == .idle else { return [] }
        return openStream()
    }

    public mutating func receive(_ event: StreamEvent) -> [Action] {
        switch event {
        case .open(let header): streamOpened(header)
        case .element(let element): elementReceived(element)
        case .close: peerClosed()
        }
    }

    public mutating func streamOpened(_ header: StreamHeader) -> [Action] {
        guard state == .awaitingStreamOpen else { return fail(.undefinedCondition, StreamError(.badFormat), "unexpected stream header") }
        guard header.streamNamespaceValid, header.contentNamespace == NS.server else {
            return fail(.remoteServerNotFound, StreamError(.invalidNamespace), "peer did not answer with a server stream")
        }
        guard header.speaksXMPP1 else {
            return fail(.remoteServerNotFound, StreamError(.unsupportedVersion), "peer does not speak XMPP 1.0")
        }
        peerStreamID = header.id
        peerOffersDialback = header.declaresDialback
        state = .awaitingFeatures
        return []
    }

    public mutating func elementReceived(_ element: XElement) -> [Action] {
        switch (element.namespace, element.name) {
        case (NS.streams, "features"):
            return features(element)
        case (NS.streams, "error"):
            guard state != .closed else { return [] }
            let error = StreamError(element: element)
            var actions: [Action] = [.failed(.remoteServerNotFound, reason: "stream error from peer: \(error?.condition.rawValue ?? "?")")]
            actions += abandonVerifies()
            state = .closed
            return actions + [.closeConnection]
        case (NS.tls, "proceed"):
            guard state == .tlsRequested else { return fail(.undefinedCondition, StreamError(.badFormat), "unexpected proceed") }
            state = .tlsHandshake
            return [.startTLS]
        case (NS.tls, "failure"):
            guard state != .closed else { return [] }
            var actions: [Action] = [.failed(.remoteServerNotFound, reason: "peer refused STARTTLS")]
            actions += abandonVerifies()
            state = .closed
            return actions + [.closeConnection]
        case (NS.sasl, "success"):
            guard state == .saslExternal else { return fail(.undefinedCondition, StreamError(.badFormat), "unexpected SASL success") }
            authMethod = .certificate
            var actions: [Action] = [.resetParser]
            actions += openStream()
            return actions
        case (NS.sasl, "failure"):
            guard state == .saslExternal else { return [] }
            // XEP-0178 §3: fall back to dialback when EXTERNAL is refused, if the peer offers it and policy allows.
            guard peerOffersDialback else {
                return fail(.remoteServerNotFound, StreamError(.notAuthorized), "peer refused our certificate and offers no dialback")
            }
            // Verifications held back while SASL was under way can go now.
            return flushVerifies() + startDialback()
        case (NS.dialback, "result"):
            return dialbackResult(element)
        case (NS.dialback, "verify"):
            // XEP-0220 §2.1.2: the answer must correlate (from, to, id) with a request sent on this stream.
            guard let id = element[attribute: "id"], let type = element[attribute: "type"],
                  Self.names(element[attribute: "from"], remote), Self.names(element[attribute: "to"], local),
                  let index = outstandingVerifies.firstIndex(of: id) else { return [] }
            outstandingVerifies.remove(at: index)
            return [.verifyAnswered(id: id, remote: remote, local: local, valid: type == "valid")]
        default:
            if let stanza = Stanza(element) {
                return bidirectionalStanza(stanza)
            }
            return []
        }
    }

    public mutating func peerClosed() -> [Action] {
        let previous = state
        switch state {
        case .closed: return []
        case .closing:
            state = .closed
            // XEP-0220 §2.1.2: verifications pending when the peer closes count as failed.
            return abandonVerifies() + [.closeConnection]
        default:
            state = .closed
            var actions: [Action] = []
            if previous != .ready {
                // XEP-0220 §2.1.1: closed while waiting for the dialback result = a dialback error (remote-server-timeout).
                actions.append(.failed(previous == .dialback ? .remoteServerTimeout : .remoteServerNotFound,
                                       reason: "peer closed the stream during negotiation"))
            }
            actions += abandonVerifies()
            return actions + [.sendStreamClose, .closeConnection]
        }
    }

    public mutating func parserFailed(_ error: XMLStreamError) -> [Action] {
        fail(.remoteServerNotFound, StreamError(error), "peer sent bad XML")
    }

    /// After `.startTLS`: `certificate` is what the peer's server certificate says about `remote`.
    public mutating func tlsEstablished(certificate: PeerCertificateStatus) -> [Action] {
        guard state == .tlsHandshake || (isSecure && state == .idle) else { return [] }
        let wasIdle = state == .idle
        isSecure = true
        // XEP-0178 / RFC 6120 §13.7.2: under the strict policy an unverifiable peer is not federated with.
        if !configuration.allowDialback && !certificate.isValid(remote) {
            return fail(.remoteServerNotFound, nil, "peer certificate is not valid for \(remote)")
        }
        if wasIdle { return [] }
        var actions: [Action] = [.resetParser]
        actions += openStream()
        return actions
    }

    /// Queues or sends `<db:verify/>` for the inbound side (XEP-0220 §2.1.2).
    public mutating func requestVerification(id: String, key: String) -> [Action] {
        let element = Dialback.verify(from: local, to: remote, id: id, key: key)
        switch state {
        // Not while SASL is under way: success restarts the stream (RFC 6120 §6.4.6), and anything sent
        // after <auth/> would reach the peer's new stream, where `db:` is not declared.
        case .dialback, .ready:
            outstandingVerifies.append(id)
            return [.send(element)]
        case .awaitingFeatures where isSecure || !configuration.tlsRequired:
            outstandingVerifies.append(id)
            return [.send(element)]
        case .closing, .closed:
            return [.verifyAnswered(id: id, remote: remote, local: local, valid: false)]
        default:
            pendingVerifies.append(element)
            return []
        }
    }

    public mutating func terminate(_ error: StreamError?) -> [Action] {
        switch state {
        case .closed, .closing: return []
        default:
            if let error { return fail(.remoteServerTimeout, error, "closed by us") }
            state = .closing
            return [.sendStreamClose]
        }
    }

    // MARK: Negotiation

    private mutating func openStream() -> [Action] {
        state = .awaitingStreamOpen
        var header = StreamHeader(to: remote, from: local, contentNamespace: NS.server)
        header.declaresDialback = true
        return [.sendStreamHeader(header)]
    }

    private mutating func features(_ features: XElement) -> [Action] {
        guard state == .awaitingFeatures else { return [] }
        if authMethod != nil {
            // After SASL the restarted stream is ready.
            state = .ready
            return flushVerifies() + [.ready(authMethod!)]
        }
        if features.child("dialback", namespace: NS.dialbackFeature) != nil { peerOffersDialback = true }
        if !isSecure {
            if features.child("starttls", namespace: NS.tls) != nil && configuration.tlsAvailable {
                state = .tlsRequested
                return [.send(XElement("starttls", namespace: NS.tls))]
            }
            if configuration.tlsRequired {
                return fail(.remoteServerNotFound, StreamError(.policyViolation), "peer does not offer TLS, which we require")
            }
        }
        var actions = flushVerifies()
        // XEP-0288 §2: ask for a bidirectional stream after TLS and before SASL or dialback.
        if configuration.bidi, !isBidirectional, features.child("bidi", namespace: NS.bidiFeature) != nil {
            isBidirectional = true
            actions.append(.send(XElement("bidi", namespace: NS.bidi)))
        }
        let mechanisms = features.child("mechanisms", namespace: NS.sasl)?.elements.map(\.text) ?? []
        if isSecure && mechanisms.contains("EXTERNAL") && !triedExternal {
            triedExternal = true
            state = .saslExternal
            // XEP-0178 §3: the authorisation identity is our domain.
            actions.append(.send(XElement("auth", namespace: NS.sasl, ["mechanism": "EXTERNAL"], children: [.text(Base64.encodeString(Array(local.utf8)))])))
            return actions
        }
        if peerOffersDialback {
            return actions + startDialback()
        }
        return actions + fail(.remoteServerNotFound, StreamError(.notAuthorized), "no authentication method in common with the peer")
    }

    private mutating func startDialback() -> [Action] {
        guard let peerStreamID else {
            return fail(.remoteServerNotFound, StreamError(.badFormat), "peer's stream has no id")
        }
        state = .dialback
        let key = configuration.dialbackKey.generate(receiving: remote, originating: local, streamID: peerStreamID)
        return [.send(Dialback.result(from: local, to: remote, key: key))]
    }

    private mutating func dialbackResult(_ element: XElement) -> [Action] {
        // XEP-0220 §2.1.1: the result must correlate with the request we sent (from = remote, to = local).
        guard state == .dialback, Self.names(element[attribute: "from"], remote), Self.names(element[attribute: "to"], local) else {
            return []
        }
        switch element[attribute: "type"] {
        case "valid":
            state = .ready
            authMethod = .dialback
            return [.ready(.dialback)]
        case "invalid":
            // XEP-0220 §2.1.1: queued stanzas are returned with internal-server-error.
            return fail(.internalServerError, nil, "peer rejected our dialback key")
        default:
            // XEP-0220 §2.1.1, §2.6: a dialback error → queued stanzas are returned with remote-server-timeout.
            return fail(.remoteServerTimeout, nil, "peer answered dialback with an error")
        }
    }

    /// XEP-0288 §2: once bidirectional and authenticated, the peer may send stanzas from its domain
    /// to ours on this stream; anything else is refused as on an incoming stream (RFC 6120 §8.1.1.2).
    private mutating func bidirectionalStanza(_ stanza: Stanza) -> [Action] {
        guard isBidirectional, state == .ready else {
            return fail(.undefinedCondition, StreamError(.unsupportedStanzaType), "peer sent a stanza on our outgoing stream")
        }
        guard let from = stanza.fromString.flatMap({ try? JID($0) }), let to = stanza.toString.flatMap({ try? JID($0) }) else {
            return fail(.undefinedCondition, StreamError(.improperAddressing), "a stanza between servers needs from and to")
        }
        guard to.domainpart == local else {
            return fail(.undefinedCondition, StreamError(.hostUnknown), "this stream only carries stanzas for \(local)")
        }
        guard from.domainpart == remote else {
            return fail(.undefinedCondition, StreamError(.invalidFrom), "this stream only carries stanzas from \(remote)")
        }
        return [.deliver(stanza)]
    }

    private mutating func flushVerifies() -> [Action] {
        defer { pendingVerifies.removeAll() }
        outstandingVerifies += pendingVerifies.compactMap { $0[attribute: "id"] }
        return pendingVerifies.map { .send($0) }
    }

    /// Answers every queued or unanswered `<db:verify/>` as invalid: the stream can no longer carry the answer.
    private mutating func abandonVerifies() -> [Action] {
        let ids = outstandingVerifies + pendingVerifies.compactMap { $0[attribute: "id"] }
        outstandingVerifies.removeAll()
        pendingVerifies.removeAll()
        return ids.map { .verifyAnswered(id: $0, remote: remote, local: local, valid: false) }
    }

    /// Whether `attribute` is the bare domain `domain` (compared normalised).
    private static func names(_ attribute: String?, _ domain: String) -> Bool {
        guard let attribute, let jid = try? JID(attribute), jid.localpart == nil, jid.resourcepart == nil else { return false }
        return jid.domainpart == ((try? JID(domain))?.domainpart ?? domain)
    }

    private mutating func fail(_ condition: StanzaErrorCondition, _ error: StreamError?, _ reason: String) -> [Action] {
        if state == .closed { return [] }
        var actions: [Action] = [.failed(condition, reason: reason)]
        actions += abandonVerifies()
        if state != .idle {
            if let error { actions.append(.send(error.element)) }
            actions.append(.sendStreamClose)
        }
        actions.append(.closeConnection)
        state = .closed
        return actions
    }
}
