/// One place to try when opening a server-to-server connection: a host name (or IP literal) and
/// port, and whether TLS starts at once (XEP-0368 `_xmpps-server`) or by STARTTLS (`_xmpp-server`,
/// RFC 6120 §5). Addresses are resolved when connecting.
public struct S2SEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// `true`: TLS from the first byte (XEP-0368); `false`: plain TCP, then STARTTLS.
    public var directTLS: Bool

    public init(host: String, port: Int, directTLS: Bool) {
        self.host = host
        self.port = port
        self.directTLS = directTLS
    }

    public var description: String {
        "\(host):\(port)" + (directTLS ? " (direct TLS)" : " (STARTTLS)")
    }
}
