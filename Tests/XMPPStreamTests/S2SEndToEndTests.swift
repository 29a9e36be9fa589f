import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML
@testable import XMPPStream

// MARK: - Fixtures shared by the S2S test files

/// Two servers: a.example and b.example, each with its own dialback secret.
enum S2SFixture {
    static let secretA = Array("secret of a.example".utf8)
    static let secretB = Array("secret of b.example".utf8)
    static let keyA = DialbackKey(secret: secretA)
    static let keyB = DialbackKey(secret: secretB)

    static func configuration(hosts: Set<String>, secret: [UInt8], tlsAvailable: Bool = true, tlsRequired: Bool = true,
                              allowDialback: Bool = true) -> S2SConfiguration {
        S2SConfiguration(hosts: hosts, tlsAvailable: tlsAvailable, tlsRequired: tlsRequired, allowDialback: allowDialback,
                         dialbackKey: DialbackKey(secret: secret))
    }

    static func configurationA(tlsAvailable: Bool = true, tlsRequired: Bool = true, allowDialback: Bool = true) -> S2SConfiguration {
        configuration(hosts: ["a.example"], secret: secretA, tlsAvailable: tlsAvailable, tlsRequired: tlsRequired, allowDialback: allowDialback)
    }

    static func configurationB(tlsAvailable: Bool = true, tlsRequired: Bool = true, allowDialback: Bool = true) -> S2SConfiguration {
        configuration(hosts: ["b.example"], secret: secretB, tlsAvailable: tlsAvailable, tlsRequired: tlsRequired, allowDialback: allowDialback)
    }

    /// A presented certificate valid for exactly `domains`.
    static func certificate(validFor domains: Set<String>) -> PeerCertificateStatus {
        PeerCertificateStatus(presented: true) { domains.contains($0) }
    }

    /// A presented certificate that validates for nothing (self-signed, expired, wrong name…).
    static let invalidCertificate = PeerCertificateStatus(presented: true) { _ in false }

    /// Stream ids `prefix-1`, `prefix-2`, … in order.
    static func streamIDs(_ prefix: String) -> @Sendable () -> String {
        let counter = Counter()
        return { "\(prefix)-\(counter.next())" }
    }

    final class Counter: Sendable {
        private let value = Mutex(0)
        func next() -> Int { value.withLock { $0 += 1; return $0 } }
    }
}

/// A server stream header as a peer would send it.
func s2sHeader(to: String? = "b.example", from: String? = "a.example", id: String? = nil, version: String? = "1.0",
               namespace: String = NS.server, valid: Bool = true, dialback: Bool = true) -> StreamHeader {
    var header = StreamHeader(to: to, from: from, id: id, version: version, contentNamespace: namespace, streamNamespaceValid: valid)
    header.declaresDialback = dialback
    return header
}

func dbResult(from: String, to: String, key: String? = nil, type: String? = nil) -> XElement {
    var element = XElement("result", namespace: NS.dialback, ["from": from, "to": to])
    if let type { element[attribute: "type"] = type }
    if let key { element.append(text: key) }
    return element
}

func dbVerify(from: String, to: String, id: String, key: String? = nil, type: String? = nil) -> XElement {
    var element = XElement("verify", namespace: NS.dialback, ["from": from, "to": to, "id": id])
    if let type { element[attribute: "type"] = type }
    if let key { element.append(text: key) }
    return element
}

func serverMessage(from: String? = "alice@a.example/home", to: String? = "bob@b.example", body: String = "hi") -> XElement {
    var message = XElement("message", namespace: NS.server, ["type": "chat"])
    if let from { message[attribute: "from"] = from }
    if let to { message[attribute: "to"] = to }
    return message.appending(XElement("body", namespace: NS.server, children: [.text(body)]))
}

func sentElements(_ actions: [S2SInboundStateMachine.Action]) -> [XElement] {
    actions.compactMap { if case .send(let element) = $0 { element } else { nil } }
}

func sentElements(_ actions: [S2SOutboundStateMachine.Action]) -> [XElement] {
    actions.compactMap { if case .send(let element) = $0 { element } else { nil } }
}

func streamErrorSent(_ actions: [S2SInboundStateMachine.Action]) -> StreamErrorCondition? {
    sentElements(actions).compactMap(StreamError.init(element:)).first?.condition
}

func streamErrorSent(_ actions: [S2SOutboundStateMachine.Action]) -> StreamErrorCondition? {
    sentElements(actions).compactMap(StreamError.init(element:)).first?.condition
}

/// The stanza error condition inside a `type='error'` dialback element (XEP-0220 §2.6).
func dialbackErrorCondition(_ element: XElement) -> String? {
    element.elements.first { $0.name == "error" }?.elements.first { $0.namespace == NS.stanzaErrors }?.name
}

// MARK: - An in-memory wire

/// Connects an outbound machine (the initiating server) to an inbound machine (the receiving server) through
/// real XML text: headers go through `StreamHeader.openingTag()`, elements through `XMLSerializer` (with the
/// `stream:` and `db:` prefixes a stream header declares), and each side parses with its own `XMLStreamParser`,
/// replaced on `resetParser` and at the TLS handshake. TLS is simulated by calling `tlsEstablished` on both sides.
final class S2SWire {
    typealias Out = S2SOutboundStateMachine
    typealias In = S2SInboundStateMachine

    private(set) var outbound: Out
    private(set) var inbound: In
    /// What the receiving server learns about the initiating server's (client) certificate, and vice versa.
    let initiatorCertificate: PeerCertificateStatus
    let receiverCertificate: PeerCertificateStatus

    private(set) var outboundLog: [Out.Action] = []
    private(set) var inboundLog: [In.Action] = []
    /// Everything that crossed the wire, for failure messages.
    private(set) var transcript: [String] = []
    private(set) var tlsHandshakes = 0
    private(set) var outboundClosedConnection = false
    private(set) var inboundClosedConnection = false

    private var toInbound: [String] = []
    private var toOutbound: [String] = []
    private var inboundParser = XMLStreamParser()
    private var outboundParser = XMLStreamParser()
    private var inboundWantsTLS = false
    private var outboundWantsTLS = false
    private let serializer = XMLSerializer(declaredPrefixes: [NS.streams: "stream", NS.dialback: "db"])

    init(outbound: Out, inbound: In, initiatorCertificate: PeerCertificateStatus, receiverCertificate: PeerCertificateStatus) {
        self.outbound = outbound
        self.inbound = inbound
        self.initiatorCertificate = initiatorCertificate
        self.receiverCertificate = receiverCertificate
    }

    var log: Comment { Comment(rawValue: transcript.joined(separator: "\n")) }

    func connect() {
        handleOutbound(outbound.connected())
        pump()
    }

    /// Runs an event on the outbound machine (e.g. `requestVerification`), then lets the wire settle.
    func withOutbound(_ body: (inout Out) -> [Out.Action]) {
        let actions = body(&outbound)
        handleOutbound(actions)
        pump()
    }

    func withInbound(_ body: (inout In) -> [In.Action]) {
        let actions = body(&inbound)
        handleInbound(actions)
        pump()
    }

    /// Sends an element the outbound side's driver writes by itself (a stanza on a ready stream).
    func sendFromOutbound(_ element: XElement) {
        guard outbound.isReady else {
            Issue.record("stanzas only go out on a ready stream")
            return
        }
        enqueueToInbound(serializer.serialize(element, inheritedNamespace: NS.server))
        pump()
    }

    /// Delivers queued text, one chunk (one header or element) at a time, until nothing moves.
    func pump() {
        var rounds = 0
        while !toInbound.isEmpty || !toOutbound.isEmpty {
            rounds += 1
            if rounds > 1_000 {
                Issue.record("the wire does not settle")
                return
            }
            if !toInbound.isEmpty { deliverToInbound(toInbound.removeFirst()) }
            if !toOutbound.isEmpty { deliverToOutbound(toOutbound.removeFirst()) }
        }
    }

    private func enqueueToInbound(_ text: String) {
        guard !outboundClosedConnection, !inboundClosedConnection else { return }
        transcript.append("→ \(text)")
        toInbound.append(text)
    }

    private func enqueueToOutbound(_ text: String) {
        guard !outboundClosedConnection, !inboundClosedConnection else { return }
        transcript.append("← \(text)")
        toOutbound.append(text)
    }

    private func deliverToInbound(_ text: String) {
        let events: [XMLStreamEvent]
        do {
            events = try inboundParser.feed(text)
        } catch {
            handleInbound(inbound.parserFailed(error))
            return
        }
        for event in events { handleInbound(inbound.receive(StreamEvent(event))) }
    }

    private func deliverToOutbound(_ text: String) {
        let events: [XMLStreamEvent]
        do {
            events = try outboundParser.feed(text)
        } catch {
            handleOutbound(outbound.parserFailed(error))
            return
        }
        for event in events { handleOutbound(outbound.receive(StreamEvent(event))) }
    }

    private func handleOutbound(_ actions: [Out.Action]) {
        outboundLog += actions
        for action in actions {
            switch action {
            case .sendStreamHeader(let header): enqueueToInbound(header.openingTag())
            case .send(let element): enqueueToInbound(serializer.serialize(element, inheritedNamespace: NS.server))
            case .sendStreamClose: enqueueToInbound(StreamHeader.closingTag)
            case .startTLS:
                outboundWantsTLS = true
                handshakeIfReady()
            case .resetParser: outboundParser = XMLStreamParser()
            case .closeConnection:
                transcript.append("→ [TCP close]")
                outboundClosedConnection = true
            case .ready, .verifyAnswered, .failed, .deliver: break
            }
        }
    }

    private func handleInbound(_ actions: [In.Action]) {
        inboundLog += actions
        for action in actions {
            switch action {
            case .sendStreamHeader(let header): enqueueToOutbound(header.openingTag())
            case .send(let element): enqueueToOutbound(serializer.serialize(element, inheritedNamespace: NS.server))
            case .sendStreamClose: enqueueToOutbound(StreamHeader.closingTag)
            case .startTLS:
                inboundWantsTLS = true
                handshakeIfReady()
            case .resetParser: inboundParser = XMLStreamParser()
            case .closeConnection:
                transcript.append("← [TCP close]")
                inboundClosedConnection = true
            case .verifyDialback, .authenticated, .authenticationFailed, .deliver, .reverseRouteReady: break
            }
        }
    }

    /// Both sides asked for TLS (`<proceed/>` was flushed before the outbound side reacted to it).
    private func handshakeIfReady() {
        guard inboundWantsTLS, outboundWantsTLS else { return }
        inboundWantsTLS = false
        outboundWantsTLS = false
        tlsHandshakes += 1
        transcript.append("== TLS ==")
        inboundParser = XMLStreamParser()
        outboundParser = XMLStreamParser()
        handleInbound(inbound.tlsEstablished(certificate: initiatorCertificate))
        handleOutbound(outbound.tlsEstablished(certificate: receiverCertificate))
    }

    // Queries over the logs.

    var verifyDialbackRequests: [(remote: String, local: String, key: String, streamID: String)] {
        inboundLog.compactMap { if case .verifyDialback(let remote, let local, let key, let id) = $0 { (remote, local, key, id) } else { nil } }
    }

    var verifyAnswers: [(id: String, remote: String, local: String, valid: Bool)] {
        outboundLog.compactMap { if case .verifyAnswered(let id, let remote, let local, let valid) = $0 { (id, remote, local, valid) } else { nil } }
    }

    var delivered: [Stanza] {
        inboundLog.compactMap { if case .deliver(let stanza) = $0 { stanza } else { nil } }
    }

    var outboundFailure: StanzaErrorCondition? {
        outboundLog.lazy.compactMap { if case .failed(let condition, _) = $0 { condition } else { nil } }.first
    }
}

// MARK: - End-to-end

@Suite struct S2SEndToEndTests {
    /// a.example's outbound machine connected to b.example's inbound machine.
    private func link(certificateOfA: PeerCertificateStatus, certificateOfB: PeerCertificateStatus, allowDialback: Bool = true) -> S2SWire {
        S2SWire(
            outbound: S2SOutboundStateMachine(configuration: S2SFixture.configurationA(allowDialback: allowDialback), local: "a.example", remote: "b.example"),
            inbound: S2SInboundStateMachine(configuration: S2SFixture.configurationB(allowDialback: allowDialback), makeStreamID: S2SFixture.streamIDs("b-in")),
            initiatorCertificate: certificateOfA, receiverCertificate: certificateOfB)
    }

    /// b.example's outbound machine (towards a.example, its authoritative server) connected to a.example's inbound machine.
    private func reverseLink(certificateOfA: PeerCertificateStatus, certificateOfB: PeerCertificateStatus) -> S2SWire {
        S2SWire(
            outbound: S2SOutboundStateMachine(configuration: S2SFixture.configurationB(), local: "b.example", remote: "a.example"),
            inbound: S2SInboundStateMachine(configuration: S2SFixture.configurationA(), makeStreamID: S2SFixture.streamIDs("a-in")),
            initiatorCertificate: certificateOfB, receiverCertificate: certificateOfA)
    }

    @Test func validCertificatesAuthenticateWithSASLExternal() {
        let wire = link(certificateOfA: S2SFixture.certificate(validFor: ["a.example"]), certificateOfB: S2SFixture.certificate(validFor: ["b.example"]))
        wire.connect()

        #expect(wire.outbound.isReady, wire.log)
        #expect(wire.outbound.authMethod == .certificate, wire.log)
        #expect(wire.outboundLog.contains(.ready(.certificate)), wire.log)
        #expect(wire.tlsHandshakes == 1)
        #expect(wire.inbound.isSecure)
        #expect(wire.inboundLog.contains(.authenticated(DomainPair(remote: "a.example", local: "b.example"), .certificate)), wire.log)
        #expect(wire.inbound.authorized == [DomainPair(remote: "a.example", local: "b.example")])
        // No dialback happened.
        #expect(wire.verifyDialbackRequests.isEmpty)
        #expect(!wire.transcript.contains { $0.contains("db:result") }, wire.log)
        // Three streams: plaintext, after TLS, after SASL; the restarted stream's features are empty.
        #expect(wire.transcript.filter { $0.hasPrefix("→ <?xml") }.count == 3, wire.log)
        #expect(wire.transcript.last { $0.hasPrefix("← <stream:features") } == "← <stream:features/>", wire.log)

        wire.sendFromOutbound(serverMessage())
        #expect(wire.delivered.map(\.element) == [serverMessage()], wire.log)
        #expect(wire.inbound.state == .negotiating)
        #expect(wire.outbound.state == .ready)
    }

    @Test func invalidCertificatesFallBackToDialbackVerifiedByTheAuthoritativeServer() {
        let certificateOfA = S2SFixture.invalidCertificate
        let certificateOfB = S2SFixture.invalidCertificate
        // 1. a.example → b.example: TLS; no EXTERNAL for a certificate that does not name a.example
        //    (XEP-0178 §4), so the dialback key is sent.
        let wire = link(certificateOfA: certificateOfA, certificateOfB: certificateOfB)
        wire.connect()
        #expect(wire.tlsHandshakes == 1)
        #expect(wire.outbound.state == .dialback, wire.log)
        let requests = wire.verifyDialbackRequests
        #expect(requests.count == 1, wire.log)
        guard let request = requests.first else { return }
        #expect(request.remote == "a.example" && request.local == "b.example")
        #expect(request.streamID == wire.inbound.streamID)
        #expect(request.key == S2SFixture.keyA.generate(receiving: "b.example", originating: "a.example", streamID: request.streamID))

        // 2. b.example asks a.example's authoritative server over its own outbound stream (XEP-0220 §2.1.2).
        let reverse = reverseLink(certificateOfA: certificateOfA, certificateOfB: certificateOfB)
        reverse.withOutbound { $0.requestVerification(id: request.streamID, key: request.key) }  // queued until the stream is usable
        #expect(reverse.outboundLog.isEmpty)
        reverse.connect()
        #expect(reverse.tlsHandshakes == 1)
        // The verify went out after TLS, not on the plaintext stream.
        let verifyLine = reverse.transcript.firstIndex { $0.hasPrefix("→ <db:verify") }
        let tlsLine = reverse.transcript.firstIndex(of: "== TLS ==")
        #expect(verifyLine != nil && tlsLine != nil && verifyLine! > tlsLine!, reverse.log)
        #expect(reverse.verifyAnswers.count == 1, reverse.log)
        guard let answer = reverse.verifyAnswers.first else { return }
        #expect(answer.id == request.streamID && answer.remote == "a.example" && answer.local == "b.example" && answer.valid)

        // 3. b.example reports the result to a.example; a.example's stanzas are accepted.
        wire.withInbound { $0.dialbackVerified(remote: answer.remote, local: answer.local, valid: answer.valid) }
        #expect(wire.outbound.isReady, wire.log)
        #expect(wire.outbound.authMethod == .dialback)
        #expect(wire.outboundLog.contains(.ready(.dialback)))
        #expect(wire.inboundLog.contains(.authenticated(DomainPair(remote: "a.example", local: "b.example"), .dialback)))
        #expect(wire.inbound.authorized == [DomainPair(remote: "a.example", local: "b.example")])
        wire.sendFromOutbound(serverMessage(body: "via dialback"))
        #expect(wire.delivered.map(\.element) == [serverMessage(body: "via dialback")], wire.log)

        // 4. Meanwhile b.example's own stream also fell back to dialback; a.example verifies b's key with
        //    b.example over the now ready a → b stream, completing dialback in both directions.
        #expect(reverse.outbound.state == .dialback, reverse.log)
        let reverseRequests = reverse.verifyDialbackRequests
        #expect(reverseRequests.count == 1, reverse.log)
        guard let reverseRequest = reverseRequests.first else { return }
        #expect(reverseRequest.remote == "b.example" && reverseRequest.local == "a.example")
        wire.withOutbound { $0.requestVerification(id: reverseRequest.streamID, key: reverseRequest.key) }
        #expect(wire.verifyAnswers.count == 1, wire.log)
        guard let reverseAnswer = wire.verifyAnswers.first else { return }
        #expect(reverseAnswer.id == reverseRequest.streamID && reverseAnswer.valid)
        reverse.withInbound { $0.dialbackVerified(remote: reverseAnswer.remote, local: reverseAnswer.local, valid: reverseAnswer.valid) }
        #expect(reverse.outbound.isReady && reverse.outbound.authMethod == .dialback, reverse.log)
        reverse.sendFromOutbound(serverMessage(from: "bob@b.example/desk", to: "alice@a.example", body: "back"))
        #expect(reverse.delivered.map(\.element) == [serverMessage(from: "bob@b.example/desk", to: "alice@a.example", body: "back")])

        // Nothing closed along the way.
        #expect(!wire.outboundClosedConnection && !wire.inboundClosedConnection && !reverse.outboundClosedConnection && !reverse.inboundClosedConnection)
    }

    @Test func withoutAClientCertificateThereIsNoExternalAndDialbackCallsBack() {
        // a.example presents no certificate: b.example offers no EXTERNAL (XEP-0178), and dialback
        // has to be verified with the authoritative server.
        let wire = link(certificateOfA: .none, certificateOfB: S2SFixture.certificate(validFor: ["b.example"]))
        wire.connect()
        #expect(!wire.transcript.contains { $0.contains("EXTERNAL") }, wire.log)
        #expect(wire.outbound.state == .dialback, wire.log)
        #expect(wire.verifyDialbackRequests.count == 1)
    }

    @Test func forgedDialbackKeyIsRejectedAndTheStreamCloses() {
        let wire = link(certificateOfA: S2SFixture.invalidCertificate, certificateOfB: S2SFixture.invalidCertificate)
        wire.connect()
        guard let request = wire.verifyDialbackRequests.first else { Issue.record("no verification requested"); return }
        // An authoritative server with another secret (a spoofer) cannot vouch for the key.
        let reverse = S2SWire(
            outbound: S2SOutboundStateMachine(configuration: S2SFixture.configurationB(), local: "b.example", remote: "a.example"),
            inbound: S2SInboundStateMachine(configuration: S2SFixture.configuration(hosts: ["a.example"], secret: Array("wrong".utf8)),
                                            makeStreamID: S2SFixture.streamIDs("x")),
            initiatorCertificate: S2SFixture.invalidCertificate, receiverCertificate: S2SFixture.invalidCertificate)
        reverse.connect()
        reverse.withOutbound { $0.requestVerification(id: request.streamID, key: request.key) }
        guard let answer = reverse.verifyAnswers.first else { Issue.record("no answer"); return }
        #expect(!answer.valid)

        wire.withInbound { $0.dialbackVerified(remote: answer.remote, local: answer.local, valid: answer.valid) }
        #expect(!wire.outbound.isReady)
        #expect(wire.outboundFailure == .internalServerError, wire.log)
        #expect(wire.inbound.authorized.isEmpty)
        #expect(wire.inboundClosedConnection)
        #expect(wire.transcript.contains("← <db:result from='b.example' to='a.example' type='invalid'/>"), wire.log)
    }

    @Test func strictPolicyRefusesInvalidCertificatesBeforeAnyDialback() {
        let wire = link(certificateOfA: S2SFixture.invalidCertificate, certificateOfB: S2SFixture.invalidCertificate, allowDialback: false)
        wire.connect()
        #expect(wire.outboundFailure == .remoteServerNotFound, wire.log)
        #expect(wire.outboundClosedConnection)
        #expect(wire.verifyDialbackRequests.isEmpty)
        #expect(wire.inbound.authorized.isEmpty)
    }

    @Test func onlyTheReceiverHasAValidCertificateUnderStrictPolicy() {
        // a.example's certificate is bad; b.example accepts only certificates: EXTERNAL fails, dialback is refused.
        let wire = S2SWire(
            outbound: S2SOutboundStateMachine(configuration: S2SFixture.configurationA(), local: "a.example", remote: "b.example"),
            inbound: S2SInboundStateMachine(configuration: S2SFixture.configurationB(allowDialback: false), makeStreamID: S2SFixture.streamIDs("b")),
            initiatorCertificate: S2SFixture.invalidCertificate, receiverCertificate: S2SFixture.certificate(validFor: ["b.example"]))
        wire.connect()
        #expect(wire.verifyDialbackRequests.isEmpty, wire.log)
        #expect(!wire.outbound.isReady)
        #expect(wire.outboundFailure != nil, wire.log)
        #expect(wire.inbound.authorized.isEmpty)
    }
}
