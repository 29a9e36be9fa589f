import NIOCore

/// The DNS questions Parley asks: SRV records for server-to-server discovery (RFC 6120 §3.2,
/// XEP-0368) and the addresses of a host to connect to.
///
/// `SystemDNSResolver` asks the system resolver; tests supply fakes.
public protocol DNSResolver: Sendable {
    /// The SRV records at `name` (for example `_xmpp-server._tcp.example.org`), in answer order.
    /// Throws `.notFound` when the name has no SRV records.
    func srv(_ name: String) async throws(DNSLookupError) -> [SRVRecord]

    /// The IPv4 and IPv6 addresses of `host`, each with `port`, in the order to try them.
    /// Throws `.notFound` when the host has no addresses.
    func addresses(_ host: String, port: Int) async throws(DNSLookupError) -> [SocketAddress]
}
