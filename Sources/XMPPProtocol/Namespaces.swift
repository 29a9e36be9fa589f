/// XML namespaces used by the protocol core.
public enum NS {
    public static let client = "jabber:client"
    public static let server = "jabber:server"
    public static let streams = "http://etherx.jabber.org/streams"
    public static let streamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
    public static let stanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    public static let ping = "urn:xmpp:ping"
    /// XEP-0077 in-band registration.
    public static let register = "jabber:iq:register"
    public static let registerFeature = "http://jabber.org/features/iq-register"
    /// XEP-0440: SASL channel-binding type capability.
    public static let saslChannelBinding = "urn:xmpp:sasl-cb:0"
}

extension NS {
    /// XEP-0220 server dialback.
    public static let dialback = "jabber:server:dialback"
    /// XEP-0220 §8.1: the stream feature advertising dialback (with error support).
    public static let dialbackFeature = "urn:xmpp:features:dialback"
    /// XEP-0288 bidirectional server-to-server connections.
    public static let bidi = "urn:xmpp:bidi"
    public static let bidiFeature = "urn:xmpp:features:bidi"
}
