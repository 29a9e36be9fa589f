import NIOSSL

/// One server-side `NIOSSLContext` per served host, built once at start-up and shared by every
/// listener and connection.
///
/// - STARTTLS (c2s 5222, s2s 5269): the stream header's `to` names the host before TLS starts;
///   after `<proceed/>` add `NIOSSLServerHandler(context: contexts.contextOrDefault(forHost: to))`
///   at `.first` in the same event-loop tick, and use `channelBinding(forHost: to)` for
///   SCRAM-*-PLUS.
/// - Direct TLS (c2s 5223, XEP-0368): the host is known only from SNI; see
///   ``makeSNIServerTLSHandler(contexts:onSelected:)``.
///
/// Host lookups ignore case and a trailing dot.
public final class TLSContexts: Sendable {
    /// Everything precomputed for one host.
    public struct Entry: Sendable {
        public let host: String
        public let identity: TLSIdentity
        public let context: NIOSSLContext
        /// tls-server-end-point data for ``identity``'s leaf (RFC 5929 §4.1).
        public let channelBinding: [UInt8]
    }

    /// ALPN protocol names for XMPP over direct TLS (XEP-0368 §3).
    public static let xmppClientALPN = "xmpp-client"
    public static let xmppServerALPN = "xmpp-server"

    private let entries: [String: Entry]

    /// The host whose certificate is served when the client names no host (no SNI) or an
    /// unknown one.
    public let defaultHost: String

    /// Builds one context per host.
    ///
    /// - Parameters:
    ///   - identities: the certificate for each host (keys are host names).
    ///   - defaultHost: the fallback host; by default the alphabetically first one, so the choice
    ///     is stable across restarts. Must be one of `identities`' keys.
    ///   - applicationProtocols: ALPN names the server accepts. `xmpp-client` for c2s
    ///     (XEP-0368); build a second `TLSContexts` with `xmpp-server` for direct-TLS s2s.
    ///     A client offering none of these still connects, without ALPN.
    ///   - customize: last-minute changes to each host's configuration (for example client
    ///     certificate requests on s2s).
    /// - Throws: ``CertificateStoreError/noSuchHost(_:)`` for an empty map or an unknown default,
    ///   ``CertificateStoreError/contextFailed(host:reason:)`` if NIOSSL rejects a host's material.
    public init(
        identities: [String: TLSIdentity],
        defaultHost: String? = nil,
        applicationProtocols: [String] = [TLSContexts.xmppClientALPN],
        customize: ((String, inout TLSConfiguration) -> Void)? = nil
    ) throws {
        var entries: [String: Entry] = [:]
        for (host, identity) in identities {
            let key = Self.normalize(host)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: identity.certificateSources,
                privateKey: identity.privateKeySource
            )
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = applicationProtocols
            customize?(key, &configuration)
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: configuration)
            } catch {
                throw CertificateStoreError.contextFailed(host: key, reason: "\(error)")
            }
            entries[key] = Entry(
                host: key,
                identity: identity,
                context: context,
                channelBinding: tlsServerEndPointBinding(leafDER: identity.leafDER)
            )
        }
        let fallback = defaultHost.map(Self.normalize) ?? entries.keys.min()
        guard let fallback, entries[fallback] != nil else {
            throw CertificateStoreError.noSuchHost(defaultHost ?? "")
        }
        self.entries = entries
        self.defaultHost = fallback
    }

    /// The configured hosts, sorted.
    public var hosts: [String] { entries.keys.sorted() }

    /// The entry for exactly this host, or nil.
    public func entry(forHost host: String) -> Entry? {
        entries[Self.normalize(host)]
    }

    /// The context for exactly this host, or nil if it is not served.
    public func context(forHost host: String) -> NIOSSLContext? {
        entry(forHost: host)?.context
    }

    /// The host whose certificate a client asking for `name` gets: `name` itself when served,
    /// otherwise ``defaultHost``. `nil` (no SNI) also gives the default.
    public func resolveHost(_ name: String?) -> String {
        guard let name, let entry = entry(forHost: name) else { return defaultHost }
        return entry.host
    }

    /// The context served to a client asking for `name` (see ``resolveHost(_:)``).
    public func contextOrDefault(forHost name: String?) -> NIOSSLContext {
        entries[resolveHost(name)]!.context
    }

    /// The tls-server-end-point channel-binding data (RFC 5929 §4.1) of the certificate served
    /// to a client asking for `host` — the default host's for an unknown name, matching what
    /// ``contextOrDefault(forHost:)`` and the SNI handler serve.
    public func channelBinding(forHost host: String) -> [UInt8] {
        entries[resolveHost(host)]!.channelBinding
    }

    static func normalize(_ host: String) -> String {
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }
}
