import Testing
import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML
@testable import XMPPStream

private typealias OutAction = S2SOutboundStateMachine.Action

/// a.example → b.example.
private func outbound(tlsAvailable: Bool = true, tlsRequired: Bool = true, allowDialback: Bool = true,
                      directTLS: Bool = false) -> S2SOutboundStateMachine {
    S2SOutboundStateMachine(configuration: S2SFixture.configurationA(tlsAvailable: tlsAvailable, tlsRequired: tlsRequired, allowDialback: allowDialback),
                            local: "a.example", remote: "b.example", directTLS: directTLS)
}

/// The receiving server's reply header.
private func peerHeader(id: String? = "peer-1", dialback: Bool = true, namespace: String = NS.server, version: String? = "1.0") -> StreamHeader {
    s2sHeader(to: "a.example", from: "b.example", id: id, version: version, namespace: namespace, dialback: dialback)
}

private func features(_ children: XElement...) -> XElement {
    XElement("features", namespace: NS.streams, children: children.map { .element($0) })
}

private let startTLSRequired = XElement("starttls", namespace: NS.tls).appending(XElement("required", namespace: NS.tls))
private let externalMechanism = XElement("mechanisms", namespace: NS.sasl).appending(XElement("mechanism", namespace: NS.sasl, children: [.text("EXTERNAL")]))
private let dialbackFeature = XElement("dialback", namespace: NS.dialbackFeature).appending(XElement("errors", namespace: NS.dialbackFeature))
private let validForB = S2SFixture.certificate(validFor: ["b.example"])

private func failure(_ actions: [OutAction]) -> StanzaErrorCondition? {
    actions.lazy.compactMap { if case .failed(let condition, _) = $0 { condition } else { nil } }.first
}

private func verifyAnswers(_ actions: [OutAction]) -> [OutAction] {
    actions.filter { if case .verifyAnswered = $0 { true } else { false } }
}

/// Through STARTTLS; `certificate` is the peer's server certificate.
private func securedOutbound(_ certificate: PeerCertificateStatus = validForB, allowDialback: Bool = true) -> (S2SOutboundStateMachine, [OutAction]) {
    var machine = outbound(allowDialback: allowDialback)
    _ = machine.connected()
    _ = machine.streamOpened(peerHeader())
    _ = machine.elementReceived(features(startTLSRequired))
    _ = machine.elementReceived(XElement("proceed", namespace: NS.tls))
    let actions = machine.tlsEstablished(certificate: certificate)
    return (machine, actions)
}

/// Secured, the peer offers EXTERNAL; the auth went out.
private func externalOutbound(_ certificate: PeerCertificateStatus = validForB) -> S2SOutboundStateMachine {
    var (machine, _) = securedOutbound(certificate)
    _ = machine.streamOpened(peerHeader(id: "peer-2"))
    _ = machine.elementReceived(features(externalMechanism, dialbackFeature))
    return machine
}

/// EXTERNAL refused; the dialback key for stream `peer-2` went out.
private func dialbackOutbound() -> S2SOutboundStateMachine {
    var machine = externalOutbound(S2SFixture.invalidCertificate)
    _ = machine.elementReceived(XElement("failure", namespace: NS.sasl).appending(XElement("not-authorized", namespace: NS.sasl)))
    return machine
}

private func saslFailureElement() -> XElement {
    XElement("failure", namespace: NS.sasl).appending(XElement("not-authorized", namespace: NS.sasl))
}

@Suite struct S2SOutboundNegotiationTests {
    @Test func connectingSendsAServerHeaderDeclaringDialback() {
        var machine = outbound()
        let actions = machine.connected()
        var expected = StreamHeader(to: "b.example", from: "a.example", contentNamespace: NS.server)
        expected.declaresDialback = true
        #expect(actions == [.sendStreamHeader(expected)])
        let tag = expected.openingTag()
        #expect(tag.contains("xmlns='jabber:server'"))
        #expect(tag.contains("xmlns:db='jabber:server:dialback'"))
        #expect(tag.contains("version='1.0'"))
        #expect(machine.state == .awaitingStreamOpen)
        #expect(machine.connected().isEmpty)
    }

    @Test func headerAloneSendsNothing() {
        var machine = outbound()
        _ = machine.connected()
        #expect(machine.streamOpened(peerHeader()).isEmpty)
        #expect(machine.state == .awaitingFeatures)
    }

    @Test func badPeerHeadersFail() {
        var client = outbound()
        _ = client.connected()
        let actions = client.streamOpened(peerHeader(namespace: NS.client))
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(streamErrorSent(actions) == .invalidNamespace)
        #expect(actions.last == .closeConnection)
        var old = outbound()
        _ = old.connected()
        #expect(streamErrorSent(old.streamOpened(peerHeader(version: nil))) == .unsupportedVersion)
        var early = outbound()
        #expect(failure(early.streamOpened(peerHeader())) != nil)
    }

    @Test func startTLSIsRequestedThenStarted() {
        var machine = outbound()
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        #expect(machine.elementReceived(features(startTLSRequired, dialbackFeature)) == [.send(XElement("starttls", namespace: NS.tls))])
        #expect(machine.state == .tlsRequested)
        #expect(machine.elementReceived(XElement("proceed", namespace: NS.tls)) == [.startTLS])
        #expect(machine.state == .tlsHandshake)
    }

    @Test func tlsEstablishedRestartsTheStream() {
        let (machine, actions) = securedOutbound()
        var expected = StreamHeader(to: "b.example", from: "a.example", contentNamespace: NS.server)
        expected.declaresDialback = true
        #expect(actions == [.resetParser, .sendStreamHeader(expected)])
        #expect(machine.isSecure)
        #expect(machine.state == .awaitingStreamOpen)
    }

    @Test func unexpectedProceedIsAnError() {
        var machine = outbound()
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        let actions = machine.elementReceived(XElement("proceed", namespace: NS.tls))
        #expect(failure(actions) != nil)
        #expect(actions.last == .closeConnection)
    }

    @Test func refusedStartTLSFails() {
        var machine = outbound()
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        _ = machine.elementReceived(features(startTLSRequired))
        let actions = machine.elementReceived(XElement("failure", namespace: NS.tls))
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(actions.last == .closeConnection)
        #expect(machine.state == .closed)
    }

    @Test func peerWithoutTLSIsRefusedWhenTLSIsRequired() {
        var machine = outbound()
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        let actions = machine.elementReceived(features(dialbackFeature))
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(streamErrorSent(actions) == .policyViolation)
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
    }

    @Test func withoutTLSDialbackStartsAtOnceWhenTLSIsOptional() {
        var machine = outbound(tlsAvailable: false, tlsRequired: false)
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        let key = S2SFixture.keyA.generate(receiving: "b.example", originating: "a.example", streamID: "peer-1")
        #expect(machine.elementReceived(features(startTLSRequired, dialbackFeature)) == [.send(dbResult(from: "a.example", to: "b.example", key: key))])
        #expect(machine.state == .dialback)
    }

    @Test func invalidCertificateUnderStrictPolicyFails() {
        let (machine, actions) = securedOutbound(S2SFixture.invalidCertificate, allowDialback: false)
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(actions.first == .failed(.remoteServerNotFound, reason: "peer certificate is not valid for b.example"))
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
        #expect(!actions.contains(.resetParser))
        #expect(machine.state == .closed)
    }

    @Test func certificateForAnotherDomainUnderStrictPolicyFails() {
        let (_, actions) = securedOutbound(S2SFixture.certificate(validFor: ["c.example"]), allowDialback: false)
        #expect(failure(actions) == .remoteServerNotFound)
    }

    @Test func invalidCertificateIsToleratedWhenDialbackIsAllowed() {
        let (machine, actions) = securedOutbound(S2SFixture.invalidCertificate)
        #expect(failure(actions) == nil)
        #expect(actions.first == .resetParser)
        #expect(machine.state == .awaitingStreamOpen)
    }

    @Test func directTLSChecksTheCertificateWithoutARestart() {
        var machine = outbound(directTLS: true)
        #expect(machine.tlsEstablished(certificate: validForB).isEmpty)
        #expect(machine.connected().count == 1)
        var strict = outbound(allowDialback: false, directTLS: true)
        let actions = strict.tlsEstablished(certificate: S2SFixture.invalidCertificate)
        // Nothing was sent yet: no stream close, just the TCP close.
        #expect(actions == [.failed(.remoteServerNotFound, reason: "peer certificate is not valid for b.example"), .closeConnection])
    }

    @Test func noCommonAuthenticationMethodFails() {
        var (machine, _) = securedOutbound()
        _ = machine.streamOpened(peerHeader(id: "peer-2", dialback: false))
        let actions = machine.elementReceived(features())
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(streamErrorSent(actions) == .notAuthorized)
    }

    @Test func parserFailureFails() {
        var machine = outbound()
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        let actions = machine.parserFailed(.notWellFormed("oops"))
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(streamErrorSent(actions) == .notWellFormed)
    }
}

@Suite struct S2SOutboundExternalTests {
    @Test func externalIsOfferedAndUsedWithOurDomainAsAuthzid() {
        var (machine, _) = securedOutbound()
        _ = machine.streamOpened(peerHeader(id: "peer-2"))
        let actions = machine.elementReceived(features(externalMechanism, dialbackFeature))
        let expected = XElement("auth", namespace: NS.sasl, ["mechanism": "EXTERNAL"], children: [.text("YS5leGFtcGxl")])  // base64("a.example")
        #expect(actions == [.send(expected)])
        #expect(machine.state == .saslExternal)
    }

    @Test func successRestartsThenTheStreamIsReady() {
        var machine = externalOutbound()
        let actions = machine.elementReceived(XElement("success", namespace: NS.sasl))
        var header = StreamHeader(to: "b.example", from: "a.example", contentNamespace: NS.server)
        header.declaresDialback = true
        #expect(actions == [.resetParser, .sendStreamHeader(header)])
        #expect(!machine.isReady)
        #expect(machine.streamOpened(peerHeader(id: "peer-3")).isEmpty)
        #expect(machine.elementReceived(features()) == [.ready(.certificate)])
        #expect(machine.isReady)
        #expect(machine.authMethod == .certificate)
    }

    @Test func unexpectedSuccessIsAnError() {
        var (machine, _) = securedOutbound()
        _ = machine.streamOpened(peerHeader(id: "peer-2"))
        #expect(failure(machine.elementReceived(XElement("success", namespace: NS.sasl))) != nil)
    }

    @Test func externalFailureFallsBackToDialbackWithTheRightKey() {
        var machine = externalOutbound(S2SFixture.invalidCertificate)
        let actions = machine.elementReceived(saslFailureElement())
        let key = S2SFixture.keyA.generate(receiving: "b.example", originating: "a.example", streamID: "peer-2")
        #expect(actions == [.send(dbResult(from: "a.example", to: "b.example", key: key))])
        #expect(machine.state == .dialback)
        // The key is the one a.example's authoritative side accepts.
        #expect(S2SFixture.keyA.verify(key, receiving: "b.example", originating: "a.example", streamID: "peer-2"))
    }

    @Test func externalFailureWithoutDialbackFails() {
        var (machine, _) = securedOutbound()
        _ = machine.streamOpened(peerHeader(id: "peer-2", dialback: false))
        _ = machine.elementReceived(features(externalMechanism))
        let actions = machine.elementReceived(saslFailureElement())
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(streamErrorSent(actions) == .notAuthorized)
    }

    @Test func dialbackFeatureAloneIsEnoughToFallBack() {
        // A peer advertising the dialback stream feature supports dialback even without xmlns:db on its header.
        var (machine, _) = securedOutbound()
        _ = machine.streamOpened(peerHeader(id: "peer-2", dialback: false))
        _ = machine.elementReceived(features(externalMechanism, dialbackFeature))
        let actions = machine.elementReceived(saslFailureElement())
        #expect(failure(actions) == nil)
        #expect(sentElements(actions).first?.name == "result")
        #expect(machine.state == .dialback)
    }

    @Test func externalIsTriedOnlyOnce() {
        var machine = dialbackOutbound()
        #expect(machine.elementReceived(features(externalMechanism)).isEmpty)
        #expect(machine.state == .dialback)
    }
}

@Suite struct S2SOutboundDialbackTests {
    @Test func withoutExternalDialbackStartsAfterTLS() {
        var (machine, _) = securedOutbound(S2SFixture.invalidCertificate)
        _ = machine.streamOpened(peerHeader(id: "peer-2"))
        let key = S2SFixture.keyA.generate(receiving: "b.example", originating: "a.example", streamID: "peer-2")
        #expect(machine.elementReceived(features(dialbackFeature)) == [.send(dbResult(from: "a.example", to: "b.example", key: key))])
    }

    @Test func validResultMakesTheStreamReady() {
        var machine = dialbackOutbound()
        #expect(machine.elementReceived(dbResult(from: "b.example", to: "a.example", type: "valid")) == [.ready(.dialback)])
        #expect(machine.isReady)
        #expect(machine.authMethod == .dialback)
    }

    @Test func invalidResultFails() {
        var machine = dialbackOutbound()
        let actions = machine.elementReceived(dbResult(from: "b.example", to: "a.example", type: "invalid"))
        // XEP-0220 §2.1.1: queued stanzas bounce with internal-server-error.
        #expect(failure(actions) == .internalServerError)
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
        #expect(!machine.isReady)
        #expect(machine.state == .closed)
    }

    @Test func errorResultFails() {
        var machine = dialbackOutbound()
        var error = dbResult(from: "b.example", to: "a.example", type: "error")
        error.append(XElement("error", namespace: NS.server, ["type": "cancel"]).appending(XElement("item-not-found", namespace: NS.stanzaErrors)))
        // XEP-0220 §2.6: queued stanzas bounce with remote-server-timeout.
        #expect(failure(machine.elementReceived(error)) == .remoteServerTimeout)
    }

    @Test func resultsThatDoNotAnswerOurRequestAreIgnored() {
        // XEP-0220 §2.1.1: the answer's from/to must correlate with the request (a.example → b.example).
        var machine = dialbackOutbound()
        #expect(machine.elementReceived(dbResult(from: "c.example", to: "a.example", type: "valid")).isEmpty)
        #expect(machine.elementReceived(dbResult(from: "b.example", to: "c.example", type: "valid")).isEmpty)
        #expect(machine.elementReceived(dbResult(from: "b.example", to: "a.example", type: "invalid")).first != nil)
        var unasked = externalOutbound()
        #expect(unasked.elementReceived(dbResult(from: "b.example", to: "a.example", type: "valid")).isEmpty)
        #expect(!unasked.isReady)
    }

    @Test func resultDomainsCompareCaseInsensitively() {
        var machine = dialbackOutbound()
        #expect(machine.elementReceived(dbResult(from: "B.Example", to: "A.example", type: "valid")) == [.ready(.dialback)])
    }
}

@Suite struct S2SOutboundFailureTests {
    @Test func streamErrorFromThePeerFails() {
        var machine = dialbackOutbound()
        let actions = machine.elementReceived(StreamError(.hostUnknown).element)
        #expect(failure(actions) == .remoteServerNotFound)
        #expect(actions.last == .closeConnection)
        #expect(machine.state == .closed)
        // Only once.
        #expect(machine.elementReceived(StreamError(.hostUnknown).element).isEmpty)
        #expect(machine.peerClosed().isEmpty)
    }

    @Test func peerClosingDuringNegotiationFails() {
        var machine = outbound()
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        let actions = machine.peerClosed()
        #expect(actions == [.failed(.remoteServerNotFound, reason: "peer closed the stream during negotiation"), .sendStreamClose, .closeConnection])
        #expect(machine.peerClosed().isEmpty)
    }

    @Test func peerClosingWhileWaitingForTheDialbackResultIsATimeout() {
        // XEP-0220 §2.1.1: treated like a dialback error.
        var machine = dialbackOutbound()
        #expect(failure(machine.peerClosed()) == .remoteServerTimeout)
    }

    @Test func peerClosingAReadyStreamIsNotAFailure() {
        var machine = dialbackOutbound()
        _ = machine.elementReceived(dbResult(from: "b.example", to: "a.example", type: "valid"))
        #expect(machine.peerClosed() == [.sendStreamClose, .closeConnection])
    }

    @Test func stanzaOnTheOutgoingStreamIsUnsupportedStanzaType() {
        var machine = dialbackOutbound()
        _ = machine.elementReceived(dbResult(from: "b.example", to: "a.example", type: "valid"))
        let actions = machine.elementReceived(serverMessage(from: "bob@b.example", to: "alice@a.example"))
        #expect(streamErrorSent(actions) == .unsupportedStanzaType)
        #expect(failure(actions) == .undefinedCondition)
        #expect(actions.suffix(2) == [.sendStreamClose, .closeConnection])
        #expect(machine.state == .closed)
    }

    @Test func terminate() {
        var graceful = dialbackOutbound()
        #expect(graceful.terminate(nil) == [.sendStreamClose])
        #expect(graceful.state == .closing)
        #expect(graceful.peerClosed() == [.closeConnection])
        var failing = dialbackOutbound()
        let actions = failing.terminate(StreamError(.systemShutdown))
        #expect(failure(actions) == .remoteServerTimeout)
        #expect(streamErrorSent(actions) == .systemShutdown)
    }
}

@Suite struct S2SOutboundVerificationTests {
    // b.example's side in these tests is the authoritative server for the key's sender domain; our machine
    // (a.example → b.example) carries db:verify for a.example's inbound streams (XEP-0220 §2.1.2).
    private let request = dbVerify(from: "a.example", to: "b.example", id: "in-7", key: "k7")

    @Test func requestsBeforeTheStreamIsUsableAreQueuedAndFlushedAfterTLS() {
        var machine = outbound()
        #expect(machine.requestVerification(id: "in-7", key: "k7").isEmpty)
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        // Not on the plaintext stream when TLS is required.
        #expect(sentElements(machine.elementReceived(features(startTLSRequired))).map(\.name) == ["starttls"])
        #expect(machine.requestVerification(id: "in-8", key: "k8").isEmpty)
        _ = machine.elementReceived(XElement("proceed", namespace: NS.tls))
        #expect(machine.requestVerification(id: "in-9", key: "k9").isEmpty)
        _ = machine.tlsEstablished(certificate: validForB)
        _ = machine.streamOpened(peerHeader(id: "peer-2"))
        let actions = machine.elementReceived(features(externalMechanism, dialbackFeature))
        let sent = sentElements(actions)
        #expect(sent.prefix(3) == [request, dbVerify(from: "a.example", to: "b.example", id: "in-8", key: "k8"),
                                  dbVerify(from: "a.example", to: "b.example", id: "in-9", key: "k9")])
        #expect(sent.last?.name == "auth")
        // Answers come back as verifyAnswered.
        #expect(machine.elementReceived(dbVerify(from: "b.example", to: "a.example", id: "in-8", type: "valid"))
            == [.verifyAnswered(id: "in-8", remote: "b.example", local: "a.example", valid: true)])
        #expect(machine.elementReceived(dbVerify(from: "b.example", to: "a.example", id: "in-7", type: "invalid"))
            == [.verifyAnswered(id: "in-7", remote: "b.example", local: "a.example", valid: false)])
        var error = dbVerify(from: "b.example", to: "a.example", id: "in-9", type: "error")
        error.append(XElement("error", namespace: NS.server, ["type": "cancel"]).appending(XElement("item-not-found", namespace: NS.stanzaErrors)))
        #expect(machine.elementReceived(error) == [.verifyAnswered(id: "in-9", remote: "b.example", local: "a.example", valid: false)])
    }

    @Test func requestsAreSentAtOnceOnAUsableStream() {
        var machine = dialbackOutbound()
        #expect(machine.requestVerification(id: "in-7", key: "k7") == [.send(request)])
        var ready = dialbackOutbound()
        _ = ready.elementReceived(dbResult(from: "b.example", to: "a.example", type: "valid"))
        #expect(ready.requestVerification(id: "in-7", key: "k7") == [.send(request)])
        // While SASL is under way the request waits (see S2SBidiTests.verificationsWaitWhileSASLIsUnderWay).
        var external = externalOutbound()
        #expect(external.requestVerification(id: "in-7", key: "k7").isEmpty)
    }

    @Test func requestsGoOutBeforeAuthenticationWhenTLSIsOptional() {
        // XEP-0220 §2.1.2: a connection used only for verification may skip TLS and authentication.
        var machine = outbound(tlsAvailable: false, tlsRequired: false)
        _ = machine.requestVerification(id: "in-7", key: "k7")
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        #expect(machine.requestVerification(id: "in-8", key: "k8") == [.send(dbVerify(from: "a.example", to: "b.example", id: "in-8", key: "k8"))])
        let sent = sentElements(machine.elementReceived(features(dialbackFeature)))
        #expect(sent.first == request)
    }

    @Test func unsolicitedAnswersAreDropped() {
        // XEP-0220 §2.1.2 and §5: only answers matching a request sent on this stream count.
        var machine = dialbackOutbound()
        #expect(machine.elementReceived(dbVerify(from: "b.example", to: "a.example", id: "never-asked", type: "valid")).isEmpty)
        _ = machine.requestVerification(id: "in-7", key: "k7")
        // Claims to speak for another domain than the one asked.
        #expect(machine.elementReceived(dbVerify(from: "victim.example", to: "a.example", id: "in-7", type: "valid")).isEmpty)
        #expect(machine.elementReceived(dbVerify(from: "b.example", to: "c.example", id: "in-7", type: "valid")).isEmpty)
        // A verify without a type is a request, not an answer.
        #expect(machine.elementReceived(dbVerify(from: "b.example", to: "a.example", id: "in-7", key: "k")).isEmpty)
        #expect(machine.elementReceived(dbVerify(from: "b.example", to: "a.example", id: "in-7", type: "valid"))
            == [.verifyAnswered(id: "in-7", remote: "b.example", local: "a.example", valid: true)])
        // Answered once only.
        #expect(machine.elementReceived(dbVerify(from: "b.example", to: "a.example", id: "in-7", type: "valid")).isEmpty)
    }

    @Test func queuedRequestsAreAnsweredInvalidWhenNegotiationFails() {
        var machine = outbound(allowDialback: false)
        _ = machine.requestVerification(id: "in-7", key: "k7")
        _ = machine.connected()
        _ = machine.streamOpened(peerHeader())
        _ = machine.elementReceived(features(startTLSRequired))
        _ = machine.elementReceived(XElement("proceed", namespace: NS.tls))
        let actions = machine.tlsEstablished(certificate: S2SFixture.invalidCertificate)
        #expect(verifyAnswers(actions) == [.verifyAnswered(id: "in-7", remote: "b.example", local: "a.example", valid: false)])
        // After the stream is gone, requests are answered at once.
        #expect(machine.requestVerification(id: "in-8", key: "k8") == [.verifyAnswered(id: "in-8", remote: "b.example", local: "a.example", valid: false)])
    }

    @Test func queuedRequestsAreAnsweredInvalidWhenThePeerClosesOrErrs() {
        var closing = outbound()
        _ = closing.requestVerification(id: "in-7", key: "k7")
        _ = closing.connected()
        _ = closing.streamOpened(peerHeader())
        #expect(verifyAnswers(closing.peerClosed()) == [.verifyAnswered(id: "in-7", remote: "b.example", local: "a.example", valid: false)])

        var erring = outbound()
        _ = erring.requestVerification(id: "in-7", key: "k7")
        _ = erring.connected()
        _ = erring.streamOpened(peerHeader())
        #expect(verifyAnswers(erring.elementReceived(StreamError(.hostUnknown).element)).count == 1)

        var refused = outbound()
        _ = refused.requestVerification(id: "in-7", key: "k7")
        _ = refused.connected()
        _ = refused.streamOpened(peerHeader())
        _ = refused.elementReceived(features(startTLSRequired))
        #expect(verifyAnswers(refused.elementReceived(XElement("failure", namespace: NS.tls))).count == 1)
    }

    @Test func requestsInFlightAreAnsweredInvalidWhenTheStreamEnds() {
        // XEP-0220 §2.1.2: pending verification requests on a closed connection count as failed.
        var machine = dialbackOutbound()
        _ = machine.requestVerification(id: "in-7", key: "k7")
        _ = machine.requestVerification(id: "in-8", key: "k8")
        _ = machine.elementReceived(dbVerify(from: "b.example", to: "a.example", id: "in-8", type: "valid"))
        #expect(verifyAnswers(machine.peerClosed()) == [.verifyAnswered(id: "in-7", remote: "b.example", local: "a.example", valid: false)])

        var terminated = dialbackOutbound()
        _ = terminated.requestVerification(id: "in-7", key: "k7")
        _ = terminated.terminate(nil)
        #expect(terminated.requestVerification(id: "in-8", key: "k8") == [.verifyAnswered(id: "in-8", remote: "b.example", local: "a.example", valid: false)])
        #expect(terminated.peerClosed() == [.verifyAnswered(id: "in-7", remote: "b.example", local: "a.example", valid: false), .closeConnection])
    }
}
