import ParleyNIO
import Testing

/// RFC 6125 §6 name matching for s2s peer certificates (RFC 6120 §13.7.2), on hand-built
/// ``PeerCertificateInfo`` values.
@Suite("TLS peer certificate name matching")
struct TLSPeerNameMatchingTests {
    private func trusted(
        dns: [String] = [],
        srv: [String] = [],
        xmpp: [String] = [],
        cn: [String] = [],
        uris: [String] = []
    ) -> PeerCertificateInfo {
        PeerCertificateInfo(chainTrusted: true, dnsNames: dns, srvNames: srv, xmppAddrs: xmpp, commonNames: cn, uris: uris)
    }

    @Test func dnsIDMatchesExactly() {
        let info = trusted(dns: ["b.example.test", "conference.b.example.test"])
        #expect(info.isValid(for: "b.example.test"))
        #expect(info.isValid(for: "conference.b.example.test"))
        #expect(!info.isValid(for: "c.example.test"))
        #expect(!info.isValid(for: "example.test"))
        #expect(!info.isValid(for: "x.b.example.test"))
        #expect(!info.isValid(for: "b.example.test.evil"))
    }

    @Test(arguments: ["B.Example.TEST", "b.example.test.", "B.EXAMPLE.TEST."])
    func caseAndTrailingDotAreIgnored(domain: String) {
        #expect(trusted(dns: ["b.example.test"]).isValid(for: domain))
        #expect(trusted(dns: ["B.EXAMPLE.test."]).isValid(for: domain))
        #expect(trusted(dns: ["*.Example.Test"]).isValid(for: domain))
        #expect(trusted(srv: ["_XMPP-Server.B.example.test"]).isValid(for: domain))
        #expect(trusted(xmpp: ["b.example.test"]).isValid(for: domain))
        #expect(trusted(cn: ["B.example.test"]).isValid(for: domain))
    }

    @Test func wildcardCoversExactlyOneLeftmostLabel() {
        let info = trusted(dns: ["*.example.test"])
        #expect(info.isValid(for: "a.example.test"))
        #expect(info.isValid(for: "b.example.test"))
        // Not the bare parent, not two labels.
        #expect(!info.isValid(for: "example.test"))
        #expect(!info.isValid(for: "a.b.example.test"))
        #expect(!info.isValid(for: ".example.test"))
        #expect(!info.isValid(for: "a.example.org"))
        // RFC 6125 §6.4.3: a wildcard does not stand for an A-label.
        #expect(!info.isValid(for: "xn--bcher-kva.example.test"))
    }

    @Test(arguments: [
        "b*.example.test",   // partial-label wildcard
        "*b.example.test",
        "b.*.example.test",  // not the leftmost label
        "*.*.test",
        "*.test",            // would cover a whole top-level domain
        "*",
    ])
    func otherWildcardsNeverMatch(presented: String) {
        let info = trusted(dns: [presented])
        for domain in ["b.example.test", "bb.example.test", "b.x.example.test", "example.test", "x.test", "test"] {
            #expect(!info.isValid(for: domain), "\(presented) must not match \(domain)")
        }
    }

    @Test func referenceIdentifierIsNotAPattern() {
        let info = trusted(dns: ["*.example.test", "b.example.test"])
        #expect(!info.isValid(for: "*.example.test"))
        #expect(!info.isValid(for: ""))
        #expect(!info.isValid(for: "."))
        #expect(!info.isValid(for: "b..example.test"))
    }

    @Test func srvIDForXMPPServerOnly() {
        #expect(trusted(srv: ["_xmpp-server.b.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(srv: ["_xmpp-server.b.example.test"]).isValid(for: "c.example.test"))
        // A client-service certificate does not authenticate a server (RFC 6120 §13.7.1.2).
        #expect(!trusted(srv: ["_xmpp-client.b.example.test"]).isValid(for: "b.example.test"))
        // No wildcards in SRV-IDs, and the whole name after the service label must match.
        #expect(!trusted(srv: ["_xmpp-server.*.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(srv: ["_xmpp-server.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(srv: ["_xmpp-server"]).isValid(for: "b.example.test"))
    }

    @Test func xmppAddrMatchesTheDomainExactly() {
        #expect(trusted(xmpp: ["b.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(xmpp: ["user@b.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(xmpp: ["*.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(xmpp: ["example.test"]).isValid(for: "b.example.test"))
    }

    @Test func commonNameOnlyWithoutSubjectAltNameIdentifiers() {
        #expect(trusted(cn: ["b.example.test"]).isValid(for: "b.example.test"))
        #expect(trusted(cn: ["*.example.test"]).isValid(for: "b.example.test"))
        // RFC 6125 §6.4.4: any DNS-ID, SRV-ID, XmppAddr or URI-ID turns the CN fallback off.
        #expect(!trusted(dns: ["other.test"], cn: ["b.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(srv: ["_xmpp-server.other.test"], cn: ["b.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(xmpp: ["other.test"], cn: ["b.example.test"]).isValid(for: "b.example.test"))
        #expect(!trusted(cn: ["b.example.test"], uris: ["xmpp:other.test"]).isValid(for: "b.example.test"))
        // A SAN that names the domain still matches, CN or not.
        #expect(trusted(dns: ["b.example.test"], cn: ["other.test"]).isValid(for: "b.example.test"))
    }

    @Test func untrustedChainIsNeverValid() {
        var info = trusted(dns: ["b.example.test"], srv: ["_xmpp-server.b.example.test"], xmpp: ["b.example.test"])
        info.chainTrusted = false
        info.failure = "self-signed"
        #expect(!info.isValid(for: "b.example.test"))
        // The name itself still matches: useful for the log line that explains the refusal.
        #expect(info.identityMatches("b.example.test"))
    }
}
