import Testing
import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML
@testable import XMPPStream

private typealias InAction = S2SInboundStateMachine.Action

private let pairAB = DomainPair(remote: "a.example", local: "b.example")
private let validForA = S2SFixture.certificate(validFor: ["a.example"])

/// b.example's inbound side, stream ids `in-1`, `in-2`, …
private func inbound(tlsAvailable: Bool = true, tlsRequired: Bool = true, allowDialback: Bool = true, directTLS: Bool = false,
                     hosts: Set<String> = ["b.example"]) -> S2SInboundStateMachine {
    S2SInboundStateMachine(
        configuration: S2SFixture.configuration(hosts: hosts, secret: S2SFixture.secretB, tlsAvailable: tlsAvailable,
                                                tlsRequired: tlsRequired, allowDialback: allowDialback),
        directTLS: directTLS, makeStreamID: S2SFixture.streamIDs("in"))
}

/// Through STARTTLS (the peer presenting `certificate`) to the features of the secured stream.
private func securedInbound(_ certificate: PeerCertificateStatus, allowDialback: Bool = true,
                            hosts: Set<String> = ["b.example"]) -> (S2SInboundStateMachine, features: XElement) {
    var machine = inbound(allowDialback: allowDialback, hosts: hosts)
    _ = machine.streamOpened(s2sHeader())
    _ = machine.elementReceived(XElement("starttls", namespace: NS.tls))
    _ = machine.tlsEstablished(certificate: certificate)
    let features = sentElements(machine.streamOpened(s2sHeader())).first!
    return (machine, features)
}

private func auth(_ payload: String?) -> XElement {
    var element = XElement("auth", namespace: NS.sasl, ["mechanism": "EXTERNAL"])
    if let payload { element.append(text: payload) }
    return element
}

private func saslFailure(_ actions: [InAction]) -> String? {
    sentElements(actions).first { $0.name == "failure" && $0.namespace == NS.sasl }?.elements.first?.name
}

private func mechanisms(_ features: XElement) -> [String] {
    features.child("mechanisms", namespace: NS.sasl)?.elements.map(\.text) ?? []
}

private func offersDialback(_ features: XElement) -> Bool {
    features.child("dialback", namespace: NS.dialbackFeature)?.child("errors", namespace: NS.dialbackFeature) != nil
}

/// A stream error is preceded by a header when none was sent (RFC 6120 §4.9.1.1) and followed by the close.
private func expectStreamError(_ actions: [InAction], _ condition: StreamErrorCondition, sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .sendStreamHeader = actions.first else {
        Issue.record("a stream header must precede the error: \(actions)", sourceLocation: sourceLocation)
        return
    }
    #expect(streamErrorSent(actions) == condition, sourceLocation: sourceLocation)
    #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection], sourceLocation: sourceLocation)
}

@Suite struct S2SInboundHeaderTests {
    @Test func replyHeaderDeclaresDialbackAndNamesBothDomains() {
        var machine = inbound()
        let actions = machine.streamOpened(s2sHeader())
        var expected = StreamHeader(to: "a.example", from: "b.example", id: "in-1", contentNamespace: NS.server)
        expected.declaresDialback = true
        #expect(actions.first == .sendStreamHeader(expected))
        #expect(expected.openingTag().contains("xmlns:db='jabber:server:dialback'"))
        #expect(machine.state == .negotiating)
        #expect(machine.streamID == "in-1")
        #expect(machine.peerDomain == "a.example")
        #expect(machine.localHost == "b.example")
    }

    @Test func wrongNamespacesAreInvalidNamespace() {
        var client = inbound()
        expectStreamError(client.streamOpened(s2sHeader(namespace: NS.client)), .invalidNamespace)
        #expect(client.state == .closed)
        var notAStream = inbound()
        expectStreamError(notAStream.streamOpened(s2sHeader(valid: false)), .invalidNamespace)
        var none = inbound()
        expectStreamError(none.streamOpened(s2sHeader(namespace: "")), .invalidNamespace)
    }

    @Test func unknownToIsHostUnknown() {
        var other = inbound()
        expectStreamError(other.streamOpened(s2sHeader(to: "c.example")), .hostUnknown)
        var missing = inbound()
        expectStreamError(missing.streamOpened(s2sHeader(to: nil)), .hostUnknown)
        var user = inbound()
        expectStreamError(user.streamOpened(s2sHeader(to: "bob@b.example")), .hostUnknown)
    }

    @Test func toIsCaseInsensitive() {
        var machine = inbound()
        #expect(streamErrorSent(machine.streamOpened(s2sHeader(to: "B.Example"))) == nil)
        #expect(machine.localHost == "b.example")
    }

    @Test func malformedFromIsInvalidFrom() {
        for from in ["alice@a.example", "a.example/resource", "", "a..example"] {
            var machine = inbound()
            let actions = machine.streamOpened(s2sHeader(from: from))
            expectStreamError(actions, .invalidFrom)
        }
    }

    @Test func fromIsOptional() {
        var machine = inbound()
        let actions = machine.streamOpened(s2sHeader(from: nil))
        #expect(streamErrorSent(actions) == nil)
        #expect(machine.peerDomain == nil)
    }

    @Test func versionBelowOneIsUnsupported() {
        var missing = inbound()
        expectStreamError(missing.streamOpened(s2sHeader(version: nil)), .unsupportedVersion)
        var old = inbound()
        expectStreamError(old.streamOpened(s2sHeader(version: "0.9")), .unsupportedVersion)
        var garbage = inbound()
        expectStreamError(garbage.streamOpened(s2sHeader(version: "x")), .unsupportedVersion)
        var newer = inbound()
        #expect(streamErrorSent(newer.streamOpened(s2sHeader(version: "1.1"))) == nil)
    }

    @Test func secondHeaderOnAStreamIsBadFormat() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        let actions = machine.streamOpened(s2sHeader())
        #expect(streamErrorSent(actions) == .badFormat)
        #expect(actions.last == .closeConnection)
    }

    @Test func elementBeforeHeaderIsNotWellFormed() {
        var machine = inbound()
        expectStreamError(machine.elementReceived(serverMessage()), .notWellFormed)
    }

    @Test func parserFailuresBecomeStreamErrors() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        let actions = machine.parserFailed(.restrictedXML("comment"))
        #expect(streamErrorSent(actions) == .restrictedXML)
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
    }

    @Test func peerCloseIsAnsweredOnce() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        #expect(machine.peerClosed() == [.sendStreamClose, .closeConnection])
        #expect(machine.peerClosed().isEmpty)
        var silent = inbound()
        #expect(silent.peerClosed() == [.closeConnection])
    }

    @Test func terminateClosesGracefullyOrWithAnError() {
        var graceful = inbound()
        _ = graceful.streamOpened(s2sHeader())
        #expect(graceful.terminate(nil) == [.sendStreamClose])
        #expect(graceful.state == .closing)
        #expect(graceful.peerClosed() == [.closeConnection])
        var failing = inbound()
        _ = failing.streamOpened(s2sHeader())
        #expect(streamErrorSent(failing.terminate(StreamError(.systemShutdown))) == .systemShutdown)
        #expect(failing.terminate(nil).isEmpty)
    }
}

@Suite struct S2SInboundTLSTests {
    @Test func beforeTLSOnlyRequiredStartTLSIsOffered() {
        var machine = inbound()
        let features = sentElements(machine.streamOpened(s2sHeader())).first!
        #expect(features.name == "features" && features.namespace == NS.streams)
        #expect(features.child("starttls", namespace: NS.tls)?.child("required", namespace: NS.tls) != nil)
        #expect(features.child("mechanisms", namespace: NS.sasl) == nil)
        // RFC 6120 §5.3.1: with TLS required, dialback is offered only on the secured stream.
        #expect(!offersDialback(features))
    }

    @Test func optionalTLSOffersDialbackAtOnce() {
        var machine = inbound(tlsRequired: false)
        let features = sentElements(machine.streamOpened(s2sHeader())).first!
        let starttls = features.child("starttls", namespace: NS.tls)
        #expect(starttls != nil && starttls?.child("required", namespace: NS.tls) == nil)
        #expect(offersDialback(features))
        var noTLS = inbound(tlsAvailable: false, tlsRequired: false)
        let plain = sentElements(noTLS.streamOpened(s2sHeader())).first!
        #expect(plain.child("starttls", namespace: NS.tls) == nil)
        #expect(offersDialback(plain))
    }

    @Test func startTLSProceedsThenPlaintextClosesTheConnection() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        let actions = machine.elementReceived(XElement("starttls", namespace: NS.tls))
        #expect(actions == [.send(XElement("proceed", namespace: NS.tls)), .startTLS(host: "b.example")])
        #expect(machine.state == .tlsHandshake)
        // RFC 6120 §5.4.3.3: nothing in plaintext after <proceed/>.
        #expect(machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k")) == [.closeConnection])
        #expect(machine.state == .closed)
        #expect(machine.elementReceived(serverMessage()).isEmpty)
    }

    @Test func startTLSRefusedWhenUnavailableOrAlreadySecure() {
        var unavailable = inbound(tlsAvailable: false, tlsRequired: false)
        _ = unavailable.streamOpened(s2sHeader())
        let refused = unavailable.elementReceived(XElement("starttls", namespace: NS.tls))
        #expect(refused == [.send(XElement("failure", namespace: NS.tls)), .sendStreamClose, .closeConnection])
        var (secure, _) = securedInbound(validForA)
        #expect(secure.elementReceived(XElement("starttls", namespace: NS.tls)).last == .closeConnection)
    }

    @Test func securedStreamOffersDialbackAndExternalOnlyWithACertificate() {
        let (machine, features) = securedInbound(S2SFixture.invalidCertificate)
        #expect(machine.isSecure)
        #expect(machine.streamID == "in-2")
        #expect(features.child("starttls", namespace: NS.tls) == nil)
        #expect(offersDialback(features))
        // XEP-0178 §4: a certificate that does not authenticate the header's `from` gets no EXTERNAL.
        #expect(mechanisms(features) == [])

        let (_, valid) = securedInbound(validForA)
        #expect(mechanisms(valid) == ["EXTERNAL"])

        let (_, noCertificate) = securedInbound(.none)
        #expect(noCertificate.child("mechanisms", namespace: NS.sasl) == nil)
        #expect(offersDialback(noCertificate))
    }

    @Test func directTLSSkipsStartTLS() {
        var machine = inbound(directTLS: true)
        #expect(machine.tlsEstablished(certificate: validForA).isEmpty)
        let features = sentElements(machine.streamOpened(s2sHeader())).first!
        #expect(features.child("starttls", namespace: NS.tls) == nil)
        #expect(mechanisms(features) == ["EXTERNAL"])
        #expect(offersDialback(features))
    }

    @Test func tlsEstablishedOutsideAHandshakeIsIgnored() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        #expect(machine.tlsEstablished(certificate: validForA).isEmpty)
        #expect(!machine.isSecure)
    }

    @Test func restartForAnotherHostIsHostUnknown() {
        var machine = inbound(hosts: ["b.example", "c.example"])
        _ = machine.streamOpened(s2sHeader())
        _ = machine.elementReceived(XElement("starttls", namespace: NS.tls))
        _ = machine.tlsEstablished(certificate: validForA)
        let actions = machine.streamOpened(s2sHeader(to: "c.example"))
        #expect(streamErrorSent(actions) == .hostUnknown)
    }
}

@Suite struct S2SInboundExternalTests {
    @Test func validCertificateSucceedsAndRestartsWithEmptyFeatures() {
        var (machine, _) = securedInbound(validForA)
        let actions = machine.elementReceived(auth("YS5leGFtcGxl"))  // base64("a.example")
        #expect(actions == [.send(XElement("success", namespace: NS.sasl)), .authenticated(pairAB, .certificate), .resetParser])
        #expect(machine.authorized == [pairAB])
        #expect(machine.state == .awaitingStreamOpen)

        let restart = machine.streamOpened(s2sHeader())
        guard case .sendStreamHeader(let header) = restart.first else { Issue.record("expected a header"); return }
        #expect(header.id == "in-3")
        #expect(sentElements(restart) == [XElement("features", namespace: NS.streams)])

        #expect(machine.elementReceived(serverMessage()) == [.deliver(Stanza(serverMessage())!)])
    }

    @Test func emptyAuthorizationIdentityUsesTheHeaderFrom() {
        for payload in ["=", nil, ""] as [String?] {
            var (machine, _) = securedInbound(validForA)
            #expect(machine.elementReceived(auth(payload)).contains(.authenticated(pairAB, .certificate)))
        }
    }

    @Test func withoutHeaderFromTheAuthorizationIdentityNamesTheDomain() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader(from: nil))
        _ = machine.elementReceived(XElement("starttls", namespace: NS.tls))
        _ = machine.tlsEstablished(certificate: validForA)
        _ = machine.streamOpened(s2sHeader(from: nil))
        #expect(machine.elementReceived(auth("YS5leGFtcGxl")).contains(.authenticated(pairAB, .certificate)))
        // Without any identity there is nothing to check the certificate against.
        var anonymous = inbound()
        _ = anonymous.streamOpened(s2sHeader(from: nil))
        _ = anonymous.elementReceived(XElement("starttls", namespace: NS.tls))
        _ = anonymous.tlsEstablished(certificate: validForA)
        _ = anonymous.streamOpened(s2sHeader(from: nil))
        #expect(saslFailure(anonymous.elementReceived(auth("="))) == "invalid-authzid")
    }

    @Test func invalidCertificateIsNotAuthorizedButTheStreamStaysOpen() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        let actions = machine.elementReceived(auth("YS5leGFtcGxl"))
        #expect(saslFailure(actions) == "not-authorized")
        #expect(actions.contains(.authenticationFailed(remote: "a.example", reason: "certificate not valid for the domain")))
        #expect(streamErrorSent(actions) == nil)
        #expect(machine.authorized.isEmpty)
        #expect(machine.state == .negotiating)
    }

    @Test func certificateForAnotherDomainIsNotAuthorized() {
        var (machine, _) = securedInbound(S2SFixture.certificate(validFor: ["c.example"]))
        #expect(saslFailure(machine.elementReceived(auth("="))) == "not-authorized")
    }

    @Test func authorizationIdentityMismatchingTheHeaderIsInvalidAuthzid() {
        // The certificate would be valid for c.example, but the stream header said a.example.
        var (machine, _) = securedInbound(S2SFixture.certificate(validFor: ["a.example", "c.example"]))
        let actions = machine.elementReceived(auth("Yy5leGFtcGxl"))  // base64("c.example")
        #expect(saslFailure(actions) == "invalid-authzid")
        #expect(machine.authorized.isEmpty)
        var user = securedInbound(validForA).0
        #expect(saslFailure(user.elementReceived(auth("YWxpY2VAYS5leGFtcGxl"))) == "invalid-authzid")  // alice@a.example
    }

    @Test func badBase64IsIncorrectEncoding() {
        var (machine, _) = securedInbound(validForA)
        #expect(saslFailure(machine.elementReceived(auth("!!!"))) == "incorrect-encoding")
    }

    @Test func otherMechanismsAndPlaintextAreRefused() {
        var (machine, _) = securedInbound(validForA)
        let plain = XElement("auth", namespace: NS.sasl, ["mechanism": "PLAIN"], children: [.text("AGEAYg==")])
        #expect(saslFailure(machine.elementReceived(plain)) == "invalid-mechanism")
        var insecure = inbound(tlsRequired: false)
        _ = insecure.streamOpened(s2sHeader())
        #expect(saslFailure(insecure.elementReceived(auth("="))) == "invalid-mechanism")
        #expect(insecure.authorized.isEmpty)
    }

    @Test func abortIsAcknowledged() {
        var (machine, _) = securedInbound(validForA)
        #expect(saslFailure(machine.elementReceived(XElement("abort", namespace: NS.sasl))) == "aborted")
    }
}

@Suite struct S2SInboundDialbackTests {
    private let key = S2SFixture.keyA.generate(receiving: "b.example", originating: "a.example", streamID: "in-2")

    @Test func validCertificateAuthorisesWithoutCallingBack() {
        var (machine, _) = securedInbound(validForA)
        let actions = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "anything"))
        #expect(actions == [.send(dbResult(from: "b.example", to: "a.example", type: "valid")), .authenticated(pairAB, .dialbackWithCertificate)])
        #expect(machine.authorized == [pairAB])
        #expect(machine.elementReceived(serverMessage()) == [.deliver(Stanza(serverMessage())!)])
    }

    @Test func invalidCertificateAsksTheAuthoritativeServer() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        let actions = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: key))
        #expect(actions == [.verifyDialback(remote: "a.example", local: "b.example", key: key, streamID: "in-2")])
        #expect(machine.authorized.isEmpty)
        // Not authorised until the answer.
        #expect(streamErrorSent(machine.elementReceived(serverMessage())) == .invalidFrom)
    }

    @Test func verifiedKeyAuthorisesThePair() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: key))
        let actions = machine.dialbackVerified(remote: "a.example", local: "b.example", valid: true)
        #expect(actions == [.send(dbResult(from: "b.example", to: "a.example", type: "valid")), .authenticated(pairAB, .dialback)])
        #expect(machine.authorized == [pairAB])
        #expect(machine.elementReceived(serverMessage()) == [.deliver(Stanza(serverMessage())!)])
        let presence = XElement("presence", namespace: NS.server, ["from": "alice@a.example/x", "to": "bob@b.example"])
        #expect(machine.elementReceived(presence) == [.deliver(Stanza(presence)!)])
    }

    @Test func invalidKeyIsReportedAndTheStreamCloses() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "forged"))
        let actions = machine.dialbackVerified(remote: "a.example", local: "b.example", valid: false)
        #expect(actions.first == .send(dbResult(from: "b.example", to: "a.example", type: "invalid")))
        #expect(actions.contains(.authenticationFailed(remote: "a.example", reason: "dialback key not verified")))
        // XEP-0220 §2.2.1: the first attempt failing closes the stream.
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
        #expect(machine.state == .closed)
        #expect(machine.authorized.isEmpty)
        #expect(machine.elementReceived(serverMessage()).isEmpty)
    }

    @Test func anUnreachableAuthoritativeServerIsANonFatalError() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: key))
        let actions = machine.dialbackUnverifiable(remote: "a.example", local: "b.example", condition: .remoteServerNotFound)
        // XEP-0220 §2.6: an error result, and the stream stays open for another attempt.
        guard case .send(let result) = actions.first else { Issue.record("expected an error result"); return }
        #expect(result.name == "result" && result[attribute: "type"] == "error")
        #expect(result.child("error", namespace: NS.server)?.child("remote-server-not-found", namespace: NS.stanzaErrors) != nil)
        #expect(!actions.contains(.closeConnection))
        #expect(machine.state == .negotiating)
        #expect(machine.authorized.isEmpty)
        #expect(machine.dialbackUnverifiable(remote: "a.example", local: "b.example", condition: .remoteServerNotFound).isEmpty)
    }

    @Test func unsolicitedVerificationAnswersAreIgnored() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        // Nothing was asked for c.example (XEP-0220 §5).
        #expect(machine.dialbackVerified(remote: "c.example", local: "b.example", valid: true).isEmpty)
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: key))
        #expect(machine.dialbackVerified(remote: "c.example", local: "b.example", valid: true).isEmpty)
        #expect(machine.authorized.isEmpty)
        #expect(machine.dialbackVerified(remote: "a.example", local: "b.example", valid: true).contains(.authenticated(pairAB, .dialback)))
        // An answer counts once.
        #expect(machine.dialbackVerified(remote: "a.example", local: "b.example", valid: false).isEmpty)
        #expect(machine.state == .negotiating)
    }

    @Test func strictPolicyRefusesDialbackWithoutAValidCertificate() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate, allowDialback: false)
        let actions = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: key))
        #expect(!actions.contains { if case .verifyDialback = $0 { true } else { false } })
        let result = sentElements(actions).first
        #expect(result?.name == "result" && result?.namespace == NS.dialback)
        #expect(result?[attribute: "type"] == "error")
        #expect(result?[attribute: "from"] == "b.example" && result?[attribute: "to"] == "a.example")
        #expect(result.flatMap(dialbackErrorCondition) == "not-authorized")
        #expect(actions.contains(.authenticationFailed(remote: "a.example", reason: "no valid certificate and dialback is not allowed")))
        #expect(streamErrorSent(actions) == nil)
        #expect(machine.authorized.isEmpty)
    }

    @Test func strictPolicyStillAcceptsAValidCertificate() {
        var (machine, _) = securedInbound(validForA, allowDialback: false)
        #expect(machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k")).contains(.authenticated(pairAB, .dialbackWithCertificate)))
    }

    @Test func dialbackForADomainWeDoNotHostIsItemNotFound() {
        var (machine, _) = securedInbound(validForA)
        let actions = machine.elementReceived(dbResult(from: "a.example", to: "c.example", key: key))
        #expect(actions.count == 1)
        let result = sentElements(actions).first
        #expect(result?[attribute: "type"] == "error")
        // The unknown domain is still the 'from' of the error, to identify the request (XEP-0220 §2.6).
        #expect(result?[attribute: "from"] == "c.example" && result?[attribute: "to"] == "a.example")
        #expect(result.flatMap(dialbackErrorCondition) == "item-not-found")
        // XEP-0220 §2.6: the <error/> child is qualified by jabber:server, as in the XEP's examples.
        #expect(result?.elements.first?.namespace == NS.server)
        #expect(result?.elements.first?[attribute: "type"] == "cancel")
        #expect(machine.state == .negotiating)
    }

    @Test func dialbackBeforeRequiredTLSIsPolicyViolation() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        let result = sentElements(machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k"))).first
        #expect(result.flatMap(dialbackErrorCondition) == "policy-violation")
        #expect(machine.authorized.isEmpty)
    }

    @Test func dialbackWithoutTLSWhenTLSIsOptional() {
        var machine = inbound(tlsRequired: false)
        _ = machine.streamOpened(s2sHeader())
        let key = S2SFixture.keyA.generate(receiving: "b.example", originating: "a.example", streamID: "in-1")
        #expect(machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: key))
            == [.verifyDialback(remote: "a.example", local: "b.example", key: key, streamID: "in-1")])
    }

    @Test func dialbackWithoutDomainsIsImproperAddressing() {
        var (machine, _) = securedInbound(validForA)
        let noFrom = XElement("result", namespace: NS.dialback, ["to": "b.example"], children: [.text("k")])
        #expect(streamErrorSent(machine.elementReceived(noFrom)) == .improperAddressing)
        var (user, _) = securedInbound(validForA)
        #expect(streamErrorSent(user.elementReceived(dbResult(from: "alice@a.example", to: "b.example", key: "k"))) == .improperAddressing)
    }

    @Test func resultsWithATypeAreIgnoredOnAnInboundStream() {
        // Unsolicited answers must not authorise anything (XEP-0220 §2.2, §5).
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        #expect(machine.elementReceived(dbResult(from: "a.example", to: "b.example", type: "valid")).isEmpty)
        #expect(machine.authorized.isEmpty)
    }

    @Test func multiplexedSenderDomainsAreAuthorisedSeparately() {
        var (machine, _) = securedInbound(S2SFixture.certificate(validFor: ["a.example", "rooms.a.example"]))
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k"))
        #expect(streamErrorSent(machine.elementReceived(serverMessage(from: "room@rooms.a.example/nick"))) == .invalidFrom)
        var (other, _) = securedInbound(S2SFixture.certificate(validFor: ["a.example", "rooms.a.example"]))
        _ = other.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k"))
        _ = other.elementReceived(dbResult(from: "rooms.a.example", to: "b.example", key: "k"))
        #expect(other.authorized == [pairAB, DomainPair(remote: "rooms.a.example", local: "b.example")])
        #expect(other.elementReceived(serverMessage(from: "room@rooms.a.example/nick")).count == 1)
    }
}

@Suite struct S2SInboundAuthoritativeTests {
    // b.example as the authoritative server: a.example (a receiving server) asks whether a key b.example
    // generated for the stream `sid` is genuine (XEP-0220 §2.2.2).
    private let genuine = S2SFixture.keyB.generate(receiving: "a.example", originating: "b.example", streamID: "sid")

    @Test func keyWeGeneratedIsValid() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        let actions = machine.elementReceived(dbVerify(from: "a.example", to: "b.example", id: "sid", key: genuine))
        #expect(actions == [.send(dbVerify(from: "b.example", to: "a.example", id: "sid", type: "valid"))])
        // Answering does not authorise the asking domain to send stanzas.
        #expect(machine.authorized.isEmpty)
    }

    @Test func wrongKeyIsInvalid() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        let wrong = S2SFixture.keyA.generate(receiving: "a.example", originating: "b.example", streamID: "sid")
        #expect(machine.elementReceived(dbVerify(from: "a.example", to: "b.example", id: "sid", key: wrong))
            == [.send(dbVerify(from: "b.example", to: "a.example", id: "sid", type: "invalid"))])
        // The genuine key for another stream id is wrong for this one.
        #expect(machine.elementReceived(dbVerify(from: "a.example", to: "b.example", id: "other", key: genuine))
            == [.send(dbVerify(from: "b.example", to: "a.example", id: "other", type: "invalid"))])
        // And for another receiving server.
        #expect(machine.elementReceived(dbVerify(from: "c.example", to: "b.example", id: "sid", key: genuine))
            == [.send(dbVerify(from: "b.example", to: "c.example", id: "sid", type: "invalid"))])
        #expect(machine.state == .negotiating)
    }

    @Test func domainsCompareCaseInsensitively() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        let actions = machine.elementReceived(dbVerify(from: "A.example", to: "B.Example", id: "sid", key: genuine))
        #expect(sentElements(actions).first?[attribute: "type"] == "valid")
    }

    @Test func verifyForADomainWeDoNotHostIsItemNotFoundWithTheId() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        let actions = machine.elementReceived(dbVerify(from: "a.example", to: "c.example", id: "sid", key: genuine))
        let answer = sentElements(actions).first
        #expect(answer?.name == "verify" && answer?[attribute: "type"] == "error")
        #expect(answer?[attribute: "from"] == "c.example" && answer?[attribute: "to"] == "a.example")
        // XEP-0220 §2.2.2 (Example 8): the error keeps the id so the asking server can correlate it.
        #expect(answer?[attribute: "id"] == "sid")
        #expect(answer.flatMap(dialbackErrorCondition) == "item-not-found")
        #expect(machine.state == .negotiating)
    }

    @Test func answersAreNotReanswered() {
        var (machine, _) = securedInbound(S2SFixture.invalidCertificate)
        #expect(machine.elementReceived(dbVerify(from: "a.example", to: "b.example", id: "sid", type: "valid")).isEmpty)
        #expect(machine.elementReceived(XElement("verify", namespace: NS.dialback, ["from": "a.example", "to": "b.example"])).isEmpty)
    }
}

@Suite struct S2SInboundStanzaTests {
    private func authorised() -> S2SInboundStateMachine {
        var (machine, _) = securedInbound(validForA, hosts: ["b.example", "muc.b.example"])
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k"))
        return machine
    }

    @Test func authorisedStanzasAreDelivered() {
        var machine = authorised()
        let iq = XElement("iq", namespace: NS.server, ["type": "get", "id": "1", "from": "a.example", "to": "b.example"])
        #expect(machine.elementReceived(iq) == [.deliver(Stanza(iq)!)])
        let message = serverMessage(from: "ALICE@A.example/home", to: "bob@B.example")
        #expect(machine.elementReceived(message) == [.deliver(Stanza(message)!)])
    }

    @Test func unauthorisedSenderDomainIsInvalidFrom() {
        var machine = authorised()
        let actions = machine.elementReceived(serverMessage(from: "mallory@c.example"))
        #expect(streamErrorSent(actions) == .invalidFrom)
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
        #expect(machine.state == .closed)
    }

    @Test func hostedDomainNotAuthorisedForThePairIsInvalidFrom() {
        // b.example hosts muc.b.example too, but only (a.example → b.example) was authorised.
        var machine = authorised()
        #expect(streamErrorSent(machine.elementReceived(serverMessage(to: "room@muc.b.example"))) == .invalidFrom)
    }

    @Test func unhostedRecipientIsHostUnknown() {
        var machine = authorised()
        #expect(streamErrorSent(machine.elementReceived(serverMessage(to: "carol@c.example"))) == .hostUnknown)
    }

    @Test func missingAddressesAreImproperAddressing() {
        var noFrom = authorised()
        #expect(streamErrorSent(noFrom.elementReceived(serverMessage(from: nil))) == .improperAddressing)
        var noTo = authorised()
        #expect(streamErrorSent(noTo.elementReceived(serverMessage(to: nil))) == .improperAddressing)
        var malformed = authorised()
        #expect(streamErrorSent(malformed.elementReceived(serverMessage(from: "@a.example"))) == .improperAddressing)
    }

    @Test func stanzaBeforeAuthenticationIsInvalidFrom() {
        var (machine, _) = securedInbound(validForA)
        #expect(streamErrorSent(machine.elementReceived(serverMessage())) == .invalidFrom)
    }

    @Test func unknownElementsAreUnsupportedStanzaType() {
        var machine = authorised()
        #expect(streamErrorSent(machine.elementReceived(XElement("foo", namespace: "urn:example"))) == .unsupportedStanzaType)
    }
}
