import Testing
import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML
@testable import XMPPStream

/// XEP-0288 bidirectional server-to-server streams.
@Suite struct S2SBidiTests {
    private let bidiFeature = XElement("bidi", namespace: NS.bidiFeature)
    private let bidiRequest = XElement("bidi", namespace: NS.bidi)
    private let dialbackFeature = XElement("dialback", namespace: NS.dialbackFeature)

    private func inbound() -> S2SInboundStateMachine {
        S2SInboundStateMachine(configuration: S2SFixture.configurationB(), makeStreamID: S2SFixture.streamIDs("in"))
    }

    private func securedInbound() -> (S2SInboundStateMachine, XElement) {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        _ = machine.elementReceived(XElement("starttls", namespace: NS.tls))
        _ = machine.tlsEstablished(certificate: S2SFixture.invalidCertificate)
        let features = sentElements(machine.streamOpened(s2sHeader())).first!
        return (machine, features)
    }

    @Test func bidiIsAdvertisedBeforeAndAfterTLS() {
        var machine = inbound()
        let before = sentElements(machine.streamOpened(s2sHeader())).first!
        #expect(before.child("bidi", namespace: NS.bidiFeature) != nil)
        let (_, after) = securedInbound()
        #expect(after.child("bidi", namespace: NS.bidiFeature) != nil)
    }

    @Test func bidiBeforeRequiredTLSIsRefused() {
        var machine = inbound()
        _ = machine.streamOpened(s2sHeader())
        #expect(streamErrorSent(machine.elementReceived(bidiRequest)) == .policyViolation)
    }

    @Test func dialbackOnABidiStreamOpensTheReverseRoute() {
        var (machine, _) = securedInbound()
        #expect(machine.elementReceived(bidiRequest).isEmpty)
        #expect(machine.isBidirectional)
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k"))
        let actions = machine.dialbackVerified(remote: "a.example", local: "b.example", valid: true)
        #expect(actions.contains(.reverseRouteReady(DomainPair(remote: "a.example", local: "b.example"))))
    }

    @Test func withoutBidiThereIsNoReverseRoute() {
        var (machine, _) = securedInbound()
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k"))
        let actions = machine.dialbackVerified(remote: "a.example", local: "b.example", valid: true)
        #expect(!actions.contains { if case .reverseRouteReady = $0 { true } else { false } })
    }

    @Test func bidiAfterAuthenticationIsRefused() {
        var (machine, _) = securedInbound()
        _ = machine.elementReceived(dbResult(from: "a.example", to: "b.example", key: "k"))
        _ = machine.dialbackVerified(remote: "a.example", local: "b.example", valid: true)
        #expect(streamErrorSent(machine.elementReceived(bidiRequest)) == .policyViolation)
    }

    /// Outbound a.example → b.example through TLS (the peer presenting `certificate`) to the post-TLS features.
    private func securedOutbound(peerFeatures: [XElement],
                                 certificate: PeerCertificateStatus = S2SFixture.invalidCertificate) -> (S2SOutboundStateMachine, [S2SOutboundStateMachine.Action]) {
        var machine = S2SOutboundStateMachine(configuration: S2SFixture.configurationA(), local: "a.example", remote: "b.example")
        _ = machine.connected()
        _ = machine.streamOpened(s2sHeader(to: "a.example", from: "b.example", id: "peer-1"))
        _ = machine.elementReceived(XElement("features", namespace: NS.streams).appending(XElement("starttls", namespace: NS.tls)))
        _ = machine.elementReceived(XElement("proceed", namespace: NS.tls))
        _ = machine.tlsEstablished(certificate: certificate)
        _ = machine.streamOpened(s2sHeader(to: "a.example", from: "b.example", id: "peer-2"))
        var features = XElement("features", namespace: NS.streams)
        for feature in peerFeatures { features.append(feature) }
        let actions = machine.elementReceived(features)
        return (machine, actions)
    }

    private var externalMechanism: XElement {
        XElement("mechanisms", namespace: NS.sasl).appending(XElement("mechanism", namespace: NS.sasl, children: [.text("EXTERNAL")]))
    }

    @Test func theInitiatorAsksForBidiBeforeDialback() {
        let (machine, actions) = securedOutbound(peerFeatures: [dialbackFeature, bidiFeature])
        let sent = sentElements(actions)
        #expect(sent.first == bidiRequest)
        #expect(sent.last?.name == "result" && sent.last?.namespace == NS.dialback)
        #expect(machine.isBidirectional)
    }

    @Test func noBidiRequestWhenThePeerDoesNotOfferIt() {
        let (machine, actions) = securedOutbound(peerFeatures: [dialbackFeature])
        #expect(!sentElements(actions).contains(bidiRequest))
        #expect(!machine.isBidirectional)
    }

    @Test func aBidiOutboundStreamDeliversThePeersStanzasForThePair() {
        var (machine, _) = securedOutbound(peerFeatures: [dialbackFeature, bidiFeature])
        _ = machine.elementReceived(dbResult(from: "b.example", to: "a.example", type: "valid"))
        #expect(machine.isReady)
        let reply = XElement("message", namespace: NS.server, ["from": "bob@b.example/x", "to": "alice@a.example"])
        #expect(machine.elementReceived(reply) == [.deliver(Stanza(reply)!)])
        let spoofed = XElement("message", namespace: NS.server, ["from": "eve@c.example", "to": "alice@a.example"])
        #expect(streamErrorSent(machine.elementReceived(spoofed)) == .invalidFrom)
    }

    @Test func aBidiOutboundStreamRefusesStanzasForOtherDomains() {
        var (machine, _) = securedOutbound(peerFeatures: [dialbackFeature, bidiFeature])
        _ = machine.elementReceived(dbResult(from: "b.example", to: "a.example", type: "valid"))
        let misaddressed = XElement("message", namespace: NS.server, ["from": "bob@b.example", "to": "carol@z.example"])
        #expect(streamErrorSent(machine.elementReceived(misaddressed)) == .hostUnknown)
    }

    @Test func verificationsWaitWhileSASLIsUnderWay() {
        var (machine, _) = securedOutbound(peerFeatures: [externalMechanism, dialbackFeature],
                                           certificate: S2SFixture.certificate(validFor: ["b.example"]))
        #expect(machine.state == .saslExternal)
        // Sent now, it would land in the peer's restarted stream (where `db:` is undeclared).
        #expect(machine.requestVerification(id: "in-1", key: "k").isEmpty)
        _ = machine.elementReceived(XElement("success", namespace: NS.sasl))
        _ = machine.streamOpened(s2sHeader(to: "a.example", from: "b.example", id: "peer-3"))
        let ready = machine.elementReceived(XElement("features", namespace: NS.streams))
        #expect(sentElements(ready).first?.name == "verify")
        #expect(ready.contains(.ready(.certificate)))
    }

    @Test func verificationsHeldDuringARefusedSASLGoOutWithDialback() {
        var (machine, _) = securedOutbound(peerFeatures: [externalMechanism, dialbackFeature])
        _ = machine.requestVerification(id: "in-1", key: "k")
        let actions = machine.elementReceived(XElement("failure", namespace: NS.sasl).appending(XElement("not-authorized", namespace: NS.sasl)))
        #expect(sentElements(actions).map(\.name) == ["verify", "result"])
    }
}
