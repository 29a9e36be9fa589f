/// What a peer server's TLS certificate proves, as found by ``PeerCertificateVerifier``: whether
/// its chain leads to a trusted root, and the identities its leaf presents.
///
/// The XMPP layer asks ``isValid(for:)`` with the domain the peer claims (the stream's `from`,
/// or the domain we connected to) before it offers or accepts SASL EXTERNAL (XEP-0178 §3, §4)
/// or treats the link as authenticated; otherwise it falls back to dialback (XEP-0220) or
/// refuses, per policy (RFC 6120 §13.7.2).
public struct PeerCertificateInfo: Sendable, Hashable {
    /// The chain validated to one of the ``TrustRoots`` under RFC 5280 rules at the time of the
    /// handshake.
    public var chainTrusted: Bool
    /// Why the chain is not trusted (or the certificate could not be read); nil when trusted.
    public var failure: String?
    /// subjectAltName dNSName entries (DNS-IDs), as presented.
    public var dnsNames: [String]
    /// subjectAltName otherName id-on-dnsSRV (1.3.6.1.5.5.7.8.7, RFC 4985) entries (SRV-IDs),
    /// as presented, for example `_xmpp-server.example.org`.
    public var srvNames: [String]
    /// subjectAltName otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5, RFC 6120 §13.7.1.4)
    /// entries, as presented.
    public var xmppAddrs: [String]
    /// subject commonName values (CN-IDs), as presented.
    public var commonNames: [String]
    /// subjectAltName uniformResourceIdentifier entries (URI-IDs). Never matched for XMPP; their
    /// presence only disables the CN fallback (RFC 6125 §6.4.4).
    public var uris: [String]

    public init(
        chainTrusted: Bool,
        failure: String? = nil,
        dnsNames: [String] = [],
        srvNames: [String] = [],
        xmppAddrs: [String] = [],
        commonNames: [String] = [],
        uris: [String] = []
    ) {
        self.chainTrusted = chainTrusted
        self.failure = failure
        self.dnsNames = dnsNames
        self.srvNames = srvNames
        self.xmppAddrs = xmppAddrs
        self.commonNames = commonNames
        self.uris = uris
    }

    /// True when the chain is trusted and the certificate names `domain` (RFC 6120 §13.7.2,
    /// RFC 6125 §6). The only question the s2s layer should ask before it authenticates a peer
    /// server by its certificate.
    public func isValid(for domain: String) -> Bool {
        chainTrusted && identityMatches(domain)
    }

    /// True when the certificate names `domain`, whatever its chain: for logs and diagnostics
    /// ("the name is right but the CA is not trusted"). Never authenticates anyone alone.
    ///
    /// Rules (RFC 6125 §6, as profiled by RFC 6120 §13.7.1.2 for `xmpp-server`):
    /// - DNS-ID: equal, or a wildcard `*` forming the whole leftmost label that stands for
    ///   exactly one label (`*.example.org` covers `a.example.org`, not `example.org` nor
    ///   `a.b.example.org`; RFC 6125 §6.4.3). Partial-label wildcards (`a*.example.org`) and
    ///   wildcards over a single remaining label (`*.org`) never match.
    /// - SRV-ID: `_xmpp-server.<domain>` (RFC 6125 §6.5.1, RFC 4985); no wildcards.
    /// - XmppAddr: the domain itself (RFC 6120 §13.7.1.4).
    /// - CN-ID: checked as a DNS-ID, but only when the certificate has no DNS-ID, SRV-ID,
    ///   XmppAddr or URI-ID at all (RFC 6125 §6.4.4).
    ///
    /// Comparison ignores ASCII case and one trailing dot on either side (RFC 6125 §6.4.1).
    /// Internationalized names match only in the form the certificate carries (A-labels):
    /// there is no U-label ↔ A-label conversion here yet.
    public func identityMatches(_ domain: String) -> Bool {
        let reference = PeerNameMatching.normalize(domain)
        guard PeerNameMatching.isPlausibleReference(reference) else { return false }
        if dnsNames.contains(where: { PeerNameMatching.dnsID($0, matches: reference) }) { return true }
        if srvNames.contains(where: { PeerNameMatching.srvID($0, matches: reference, service: "_xmpp-server") }) {
            return true
        }
        if xmppAddrs.contains(where: { PeerNameMatching.normalize($0) == reference }) { return true }
        let hasSubjectAltNameIdentifiers = !dnsNames.isEmpty || !srvNames.isEmpty || !xmppAddrs.isEmpty || !uris.isEmpty
        if !hasSubjectAltNameIdentifiers {
            return commonNames.contains(where: { PeerNameMatching.dnsID($0, matches: reference) })
        }
        return false
    }
}

/// RFC 6125 §6 comparisons over ASCII-lower-cased, trailing-dot-free names.
enum PeerNameMatching {
    /// ASCII lower case (RFC 6125 §6.4.1: case-insensitive ASCII comparison) and no trailing
    /// dot (a fully qualified `example.org.` is the same name). Non-ASCII is left alone.
    static func normalize(_ name: String) -> String {
        var bytes = Array(name.utf8)
        for index in bytes.indices where bytes[index] >= 0x41 && bytes[index] <= 0x5A {
            bytes[index] += 0x20
        }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A reference identifier we are willing to look up: non-empty, no empty labels, and no
    /// wildcard of its own (a peer cannot claim `*.example.org`).
    static func isPlausibleReference(_ reference: String) -> Bool {
        guard !reference.isEmpty, !reference.contains("*") else { return false }
        return !reference.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }

    /// DNS-ID (and CN-ID) against a normalized reference (RFC 6125 §6.4.1, §6.4.3).
    static func dnsID(_ presented: String, matches reference: String) -> Bool {
        let name = normalize(presented)
        guard !name.isEmpty else { return false }
        guard name.contains("*") else { return name == reference }
        let presentedLabels = name.split(separator: ".", omittingEmptySubsequences: false)
        let referenceLabels = reference.split(separator: ".", omittingEmptySubsequences: false)
        // The wildcard must be the entire leftmost label, the only `*`, and be followed by at
        // least two labels: `*.org` would cover a whole top-level domain.
        guard presentedLabels.first == "*",
              presentedLabels.dropFirst().allSatisfy({ !$0.contains("*") && !$0.isEmpty }),
              presentedLabels.count >= 3,
              presentedLabels.count == referenceLabels.count,
              let first = referenceLabels.first, !first.isEmpty
        else { return false }
        // RFC 6125 §6.4.3: do not let a wildcard stand for an A-label.
        if first.hasPrefix("xn--") { return false }
        return presentedLabels.dropFirst().elementsEqual(referenceLabels.dropFirst())
    }

    /// SRV-ID `_service.domain` against a normalized reference (RFC 6125 §6.5.1).
    static func srvID(_ presented: String, matches reference: String, service: String) -> Bool {
        let name = normalize(presented)
        guard let dot = name.firstIndex(of: ".") else { return false }
        guard name[..<dot] == service else { return false }
        let domain = name[name.index(after: dot)...]
        return !domain.contains("*") && domain == reference
    }
}
