import XMPPSASL

/// What server-to-server negotiation needs to know about this server. Fixed per listener.
public struct S2SConfiguration: Sendable {
    /// Domains served (normalised).
    public var hosts: Set<String>
    /// Whether we can offer or start TLS (certificates exist).
    public var tlsAvailable: Bool
    /// RFC 6120 §5.3.1: refuse to exchange stanzas over a stream without TLS.
    public var tlsRequired: Bool
    /// XEP-0220 and XEP-0178 §3: when a peer's certificate cannot be validated for its domain,
    /// whether it may still authenticate by dialback (otherwise only a valid certificate will do).
    public var allowDialback: Bool
    public var dialbackKey: DialbackKey
    /// XEP-0288: offer and use bidirectional streams (one TCP connection for both directions).
    public var bidi: Bool

    public init(hosts: Set<String>, tlsAvailable: Bool = true, tlsRequired: Bool = true, allowDialback: Bool = true,
                dialbackKey: DialbackKey, bidi: Bool = true) {
        self.hosts = hosts
        self.tlsAvailable = tlsAvailable
        self.tlsRequired = tlsRequired
        self.allowDialback = allowDialback
        self.dialbackKey = dialbackKey
        self.bidi = bidi
    }
}

/// How a peer domain authenticated on a stream (for logs and `parley s2s list`).
public enum S2SAuthMethod: String, Sendable, Hashable {
    /// SASL EXTERNAL with a certificate valid for the domain (XEP-0178).
    case certificate
    /// Server dialback (XEP-0220), verified with the peer's authoritative server.
    case dialback
    /// Dialback short-cut: the certificate was valid for the domain (XEP-0344 §2.3).
    case dialbackWithCertificate = "dialback+certificate"
}

/// What the driver learned about the peer's certificate during the TLS handshake.
public struct PeerCertificateStatus: Sendable {
    /// Whether the chain is trusted and names this domain (RFC 6125).
    public var isValid: @Sendable (String) -> Bool
    public var presented: Bool

    public init(presented: Bool, isValid: @escaping @Sendable (String) -> Bool) {
        self.presented = presented
        self.isValid = isValid
    }

    public static let none = PeerCertificateStatus(presented: false) { _ in false }
}
