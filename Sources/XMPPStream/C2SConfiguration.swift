import XMPPProtocol
import XMPPSASL
import XMPPXML

/// What a client-to-server stream negotiation needs to know about the server. Fixed per listener.
public struct C2SConfiguration: Sendable {
    /// Domains served (normalised).
    public var hosts: Set<String>
    /// The host used when a client's stream header has no `to` (RFC 6120 §4.7.2 lets the server choose).
    public var defaultHost: String
    /// Whether STARTTLS can be offered (a certificate exists).
    public var tlsAvailable: Bool
    /// RFC 6120 §5.3.1: when true, nothing but STARTTLS is offered before TLS.
    public var tlsRequired: Bool
    /// PLAIN is only ever offered over TLS; this can turn it off there too.
    public var plainAllowed: Bool
    /// Failed SASL attempts tolerated on one connection before the stream is closed (RFC 6120 §6.4.5).
    public var maxAuthAttempts: Int
    /// The SCRAM iteration count new accounts get; unknown users are answered with the same count so
    /// they cannot be told apart from real ones.
    public var scramIterations: Int
    /// Hosts where anyone may create an account before logging in (XEP-0077 in-band registration).
    public var registrationHosts: Set<String>
    /// Stream features offered after authentication besides bind and session (stream management, CSI…).
    public var extraFeaturesAfterAuth: [XElement]
    /// Stream features offered before authentication besides STARTTLS and SASL (in-band registration…).
    public var extraFeaturesBeforeAuth: [XElement]

    public init(hosts: Set<String>, defaultHost: String? = nil, tlsAvailable: Bool = true, tlsRequired: Bool = true,
                plainAllowed: Bool = true, maxAuthAttempts: Int = 3, scramIterations: Int = 4096,
                registrationHosts: Set<String> = [],
                extraFeaturesAfterAuth: [XElement] = [], extraFeaturesBeforeAuth: [XElement] = []) {
        self.hosts = hosts
        self.defaultHost = defaultHost ?? hosts.sorted().first ?? "localhost"
        self.tlsAvailable = tlsAvailable
        self.tlsRequired = tlsRequired
        self.plainAllowed = plainAllowed
        self.maxAuthAttempts = maxAuthAttempts
        self.scramIterations = scramIterations
        self.registrationHosts = registrationHosts
        self.extraFeaturesAfterAuth = extraFeaturesAfterAuth
        self.extraFeaturesBeforeAuth = extraFeaturesBeforeAuth
    }
}
