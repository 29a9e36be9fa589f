import Testing
import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML
@testable import XMPPStream

typealias Action = C2SStateMachine.Action

private let binding = ChannelBinding(type: "tls-server-end-point", data: Array(repeating: 7, count: 32))

private func makeMachine(tlsRequired: Bool = true, maxAuthAttempts: Int = 3, directTLS: Bool = false) -> C2SStateMachine {
    C2SStateMachine(
        configuration: C2SConfiguration(hosts: ["localhost", "example.org"], defaultHost: "localhost", tlsRequired: tlsRequired, maxAuthAttempts: maxAuthAttempts),
        directTLS: directTLS, channelBinding: directTLS ? binding : nil, makeStreamID: { "sid" })
}

private func header(to: String? = "localhost", version: String? = "1.0", namespace: String = NS.client, valid: Bool = true) -> StreamHeader {
    StreamHeader(to: to, version: version, contentNamespace: namespace, streamNamespaceValid: valid)
}

private func base64(_ string: String) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    let bytes = Array(string.utf8)
    var out = ""
    var index = 0
    while index < bytes.count {
        let chunk = Array(bytes[index..<min(index + 3, bytes.count)]) + [0, 0]
        let value = Int(chunk[0]) << 16 | Int(chunk[1]) << 8 | Int(chunk[2])
        for position in 0..<4 {
            out.append(position <= bytes.count - index ? alphabet[(value >> (18 - 6 * position)) & 63] : "=")
        }
        index += 3
    }
    return out
}

private func auth(_ mechanism: String, _ payload: String?) -> XElement {
    var element = XElement("auth", namespace: NS.sasl, ["mechanism": mechanism])
    if let payload { element.append(text: payload) }
    return element
}

private func sent(_ actions: [Action]) -> [XElement] {
    actions.compactMap { if case .send(let element) = $0 { element } else { nil } }
}

private func streamErrorCondition(_ actions: [Action]) -> StreamErrorCondition? {
    sent(actions).compactMap(StreamError.init(element:)).first?.condition
}

private func saslFailureCondition(_ actions: [Action]) -> String? {
    sent(actions).first { $0.name == "failure" && $0.namespace == NS.sasl }?.elements.first?.name
}

private let credential = try! SCRAMCredential.derive(password: "secret", hash: .sha256, salt: Array(repeating: 1, count: 16), iterations: 4096)

/// Drives a machine through STARTTLS to the post-TLS features.
private func securedMachine(maxAuthAttempts: Int = 3) -> C2SStateMachine {
    var machine = makeMachine(maxAuthAttempts: maxAuthAttempts)
    _ = machine.streamOpened(header())
    _ = machine.elementReceived(XElement("starttls", namespace: NS.tls))
    _ = machine.tlsEstablished(channelBinding: binding)
    _ = machine.streamOpened(header())
    return machine
}

private func authenticatedMachine() -> C2SStateMachine {
    var machine = securedMachine()
    _ = machine.elementReceived(auth("PLAIN", base64("\0alice\0secret")))
    _ = machine.credentialsLoaded(credential)
    _ = machine.streamOpened(header())
    return machine
}

private func boundMachine() -> C2SStateMachine {
    var machine = authenticatedMachine()
    _ = machine.elementReceived(XElement("iq", namespace: NS.client, ["type": "set", "id": "b1"]).appending(XElement("bind", namespace: NS.bind)))
    _ = machine.bindSucceeded(try! JID("alice@localhost/phone"))
    return machine
}

@Suite struct C2SNegotiationTests {
    @Test func initialFeaturesOfferOnlyRequiredStartTLS() {
        var machine = makeMachine()
        let actions = machine.streamOpened(header())
        #expect(actions.first == .sendStreamHeader(StreamHeader(from: "localhost", id: "sid")))
        let features = sent(actions).first!
        #expect(features.name == "features" && features.namespace == NS.streams)
        #expect(features.child("starttls", namespace: NS.tls)?.child("required", namespace: NS.tls) != nil)
        #expect(features.child("mechanisms", namespace: NS.sasl) == nil)
    }

    @Test func startTLSThenMechanismsWithChannelBinding() {
        var machine = makeMachine()
        _ = machine.streamOpened(header())
        let actions = machine.elementReceived(XElement("starttls", namespace: NS.tls))
        #expect(actions == [.send(XElement("proceed", namespace: NS.tls)), .startTLS(host: "localhost")])
        #expect(machine.tlsEstablished(channelBinding: binding).isEmpty)
        let features = sent(machine.streamOpened(header())).first!
        let mechanisms = features.child("mechanisms", namespace: NS.sasl)!.elements.map(\.text)
        #expect(mechanisms.contains("SCRAM-SHA-256-PLUS"))
        #expect(mechanisms.contains("SCRAM-SHA-1"))
        #expect(mechanisms.contains("PLAIN"))
        #expect(features.child("starttls", namespace: NS.tls) == nil)
        // XEP-0440
        let types = features.child("sasl-channel-binding", namespace: NS.saslChannelBinding)?.elements.map { $0[attribute: "type"] }
        #expect(types == ["tls-server-end-point"])
    }

    @Test func plaintextAfterProceedClosesTheConnection() {
        var machine = makeMachine()
        _ = machine.streamOpened(header())
        _ = machine.elementReceived(XElement("starttls", namespace: NS.tls))
        #expect(machine.elementReceived(auth("PLAIN", "AGEAYg==")) == [.closeConnection])
    }

    @Test func authenticationBeforeTLSIsRefused() {
        var machine = makeMachine()
        _ = machine.streamOpened(header())
        let actions = machine.elementReceived(auth("PLAIN", base64("\0alice\0secret")))
        #expect(saslFailureCondition(actions) == "encryption-required")
        #expect(!actions.contains { if case .lookupCredentials = $0 { true } else { false } })
    }

    @Test func plainIsNotOfferedWithoutTLS() {
        var machine = makeMachine(tlsRequired: false)
        let features = sent(machine.streamOpened(header())).first!
        let mechanisms = features.child("mechanisms", namespace: NS.sasl)!.elements.map(\.text)
        #expect(!mechanisms.contains("PLAIN"))
        #expect(!mechanisms.contains { $0.hasSuffix("-PLUS") })
        #expect(saslFailureCondition(machine.elementReceived(auth("PLAIN", base64("\0alice\0secret")))) == "invalid-mechanism")
    }

    @Test func unknownHostGetsHostUnknownAfterAHeader() {
        var machine = makeMachine()
        let actions = machine.streamOpened(header(to: "nowhere.example"))
        guard case .sendStreamHeader = actions.first else { Issue.record("a header must precede the error"); return }
        #expect(streamErrorCondition(actions) == .hostUnknown)
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
    }

    @Test func hostIsCaseInsensitive() {
        var machine = makeMachine()
        _ = machine.streamOpened(header(to: "Example.ORG"))
        #expect(machine.host == "example.org")
    }

    @Test func missingToUsesTheDefaultHost() {
        var machine = makeMachine()
        _ = machine.streamOpened(header(to: nil))
        #expect(machine.host == "localhost")
    }

    @Test func wrongNamespacesAreInvalidNamespace() {
        var machine = makeMachine()
        #expect(streamErrorCondition(machine.streamOpened(header(namespace: "jabber:server"))) == .invalidNamespace)
        var other = makeMachine()
        #expect(streamErrorCondition(other.streamOpened(header(valid: false))) == .invalidNamespace)
    }

    @Test func versionsBelowOneAreUnsupported() {
        var missing = makeMachine()
        #expect(streamErrorCondition(missing.streamOpened(header(version: nil))) == .unsupportedVersion)
        var old = makeMachine()
        #expect(streamErrorCondition(old.streamOpened(header(version: "0.9"))) == .unsupportedVersion)
        var newer = makeMachine()
        let actions = newer.streamOpened(header(version: "1.5"))
        #expect(streamErrorCondition(actions) == nil)
        #expect(actions.first == .sendStreamHeader(StreamHeader(from: "localhost", id: "sid", version: "1.0")))
    }

    @Test func stanzaBeforeAuthenticationIsNotAuthorized() {
        var machine = securedMachine()
        #expect(streamErrorCondition(machine.elementReceived(XElement("message", namespace: NS.client))) == .notAuthorized)
    }

    @Test func parserFailuresBecomeStreamErrors() {
        var machine = makeMachine()
        _ = machine.streamOpened(header())
        #expect(streamErrorCondition(machine.parserFailed(.restrictedXML("comment"))) == .restrictedXML)
        var second = makeMachine()
        let actions = second.parserFailed(.notWellFormed("mismatched tag"))
        guard case .sendStreamHeader = actions.first else { Issue.record("a header must precede the error"); return }
        #expect(streamErrorCondition(actions) == .notWellFormed)
        var third = makeMachine()
        #expect(streamErrorCondition(third.parserFailed(.limitExceeded("big"))) == .policyViolation)
    }

    @Test func peerCloseIsAnswered() {
        var machine = makeMachine()
        _ = machine.streamOpened(header())
        #expect(machine.peerClosed() == [.sendStreamClose, .closeConnection])
        #expect(machine.peerClosed().isEmpty)
    }
}

@Suite struct C2SAuthenticationTests {
    @Test func plainSuccessRestartsTheStream() {
        var machine = securedMachine()
        let lookup = machine.elementReceived(auth("PLAIN", base64("\0alice\0secret")))
        #expect(lookup == [.lookupCredentials(username: "alice", host: "localhost", hash: .sha256)])
        let actions = machine.credentialsLoaded(credential)
        #expect(sent(actions).first?.name == "success")
        #expect(actions.contains(.authenticated(try! JID("alice@localhost"))))
        #expect(actions.last == .resetParser(authenticated: true))
        let features = sent(machine.streamOpened(header())).first!
        #expect(features.child("bind", namespace: NS.bind) != nil)
        #expect(features.child("session", namespace: NS.session)?.child("optional", namespace: NS.session) != nil)
    }

    @Test func wrongPasswordIsNotAuthorizedAndRepeatedFailuresCloseTheStream() {
        var machine = securedMachine(maxAuthAttempts: 2)
        _ = machine.elementReceived(auth("PLAIN", base64("\0alice\0wrong")))
        let first = machine.credentialsLoaded(credential)
        #expect(saslFailureCondition(first) == "not-authorized")
        #expect(first.contains(.authenticationFailed(username: "alice", condition: .notAuthorized)))
        #expect(streamErrorCondition(first) == nil)
        _ = machine.elementReceived(auth("PLAIN", base64("\0alice\0wrong")))
        let second = machine.credentialsLoaded(credential)
        #expect(saslFailureCondition(second) == "not-authorized")
        #expect(streamErrorCondition(second) == .policyViolation)
        #expect(second.last == .closeConnection)
    }

    @Test func unknownUserIsNotAuthorized() {
        var machine = securedMachine()
        _ = machine.elementReceived(auth("PLAIN", base64("\0nobody\0secret")))
        #expect(saslFailureCondition(machine.credentialsLoaded(nil)) == "not-authorized")
    }

    @Test func whitespaceInsideTheBase64IsSkipped() {
        // Clients may fold long payloads; XML whitespace between base64 characters is not data.
        var machine = securedMachine()
        let encoded = base64("\0alice\0secret")
        let folded = " " + encoded.prefix(6) + "\r\n\t" + encoded.dropFirst(6) + "\n"
        let lookup = machine.elementReceived(auth("PLAIN", folded))
        #expect(lookup == [.lookupCredentials(username: "alice", host: "localhost", hash: .sha256)])
        #expect(sent(machine.credentialsLoaded(credential)).first?.name == "success")
        // Other characters are not skipped, Unicode spaces included.
        var other = securedMachine()
        #expect(saslFailureCondition(other.elementReceived(auth("PLAIN", "\u{00A0}" + encoded))) == "incorrect-encoding")
    }

    @Test func unknownMechanismAndBadBase64() {
        var machine = securedMachine()
        #expect(saslFailureCondition(machine.elementReceived(auth("DIGEST-MD5", nil))) == "invalid-mechanism")
        #expect(saslFailureCondition(machine.elementReceived(auth("PLAIN", "!!!notbase64"))) == "incorrect-encoding")
    }

    @Test func abortIsAcknowledged() {
        var machine = securedMachine()
        _ = machine.elementReceived(auth("SCRAM-SHA-1", nil))
        #expect(saslFailureCondition(machine.elementReceived(XElement("abort", namespace: NS.sasl))) == "aborted")
    }

    @Test func scramStartsWithCredentialLookupForItsHash() {
        var machine = securedMachine()
        let actions = machine.elementReceived(auth("SCRAM-SHA-512", base64("n,,n=alice,r=abcdefgh")))
        #expect(actions == [.lookupCredentials(username: "alice", host: "localhost", hash: .sha512)])
        let challenge = sent(machine.credentialsLoaded(try! SCRAMCredential.derive(password: "x", hash: .sha512, salt: [1, 2, 3], iterations: 4096)))
        #expect(challenge.first?.name == "challenge")
    }

    @Test func throttledAddressesAreRefused() {
        var machine = securedMachine()
        _ = machine.elementReceived(auth("PLAIN", base64("\0alice\0secret")))
        let actions = machine.authenticationThrottled()
        #expect(saslFailureCondition(actions) == "temporary-auth-failure")
        #expect(streamErrorCondition(actions) == .policyViolation)
    }

    @Test func directTLSOffersMechanismsAtOnce() {
        var machine = makeMachine(directTLS: true)
        let features = sent(machine.streamOpened(header())).first!
        #expect(features.child("starttls", namespace: NS.tls) == nil)
        #expect(features.child("mechanisms", namespace: NS.sasl)!.elements.map(\.text).contains("SCRAM-SHA-256-PLUS"))
    }
}

@Suite struct C2SBindingTests {
    @Test func bindAsksTheRegistryAndReturnsTheJID() {
        var machine = authenticatedMachine()
        let request = XElement("iq", namespace: NS.client, ["type": "set", "id": "b1"])
            .appending(XElement("bind", namespace: NS.bind).appending(XElement("resource", namespace: NS.bind, children: [.text("phone")])))
        #expect(machine.elementReceived(request) == [.bind(try! JID("alice@localhost"), resource: "phone")])
        let actions = machine.bindSucceeded(try! JID("alice@localhost/phone"))
        let result = sent(actions).first!
        #expect(result[attribute: "type"] == "result" && result[attribute: "id"] == "b1")
        #expect(result.child("bind", namespace: NS.bind)?.child("jid", namespace: NS.bind)?.text == "alice@localhost/phone")
        #expect(actions.last == .sessionStarted(try! JID("alice@localhost/phone")))
    }

    @Test func stanzasBeforeBindAreRefused() {
        var machine = authenticatedMachine()
        #expect(streamErrorCondition(machine.elementReceived(XElement("message", namespace: NS.client))) == .notAuthorized)
    }

    @Test func legacySessionIsAcknowledged() {
        var machine = boundMachine()
        let actions = machine.elementReceived(XElement("iq", namespace: NS.client, ["type": "set", "id": "s1"]).appending(XElement("session", namespace: NS.session)))
        #expect(sent(actions).first?[attribute: "type"] == "result")
    }

    @Test func stanzasGetFromStamped() {
        var machine = boundMachine()
        let actions = machine.elementReceived(XElement("message", namespace: NS.client, ["to": "bob@localhost"]))
        guard case .route(let stanza) = actions.first else { Issue.record("expected a route"); return }
        #expect(stanza.fromString == "alice@localhost/phone")
    }

    @Test func foreignFromIsInvalidFrom() {
        var machine = boundMachine()
        let actions = machine.elementReceived(XElement("message", namespace: NS.client, ["from": "mallory@localhost/x"]))
        #expect(streamErrorCondition(actions) == .invalidFrom)
    }

    @Test func bareFromOfTheSessionIsAccepted() {
        var machine = boundMachine()
        let actions = machine.elementReceived(XElement("presence", namespace: NS.client, ["from": "alice@localhost"]))
        guard case .route(let stanza) = actions.first else { Issue.record("expected a route"); return }
        #expect(stanza.fromString == "alice@localhost/phone")
    }

    @Test func conflictTerminatesTheStream() {
        var machine = boundMachine()
        let actions = machine.terminate(StreamError(.conflict))
        #expect(streamErrorCondition(actions) == .conflict)
        #expect(actions.last == .closeConnection)
    }
}
