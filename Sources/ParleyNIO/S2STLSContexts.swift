import NIOSSL

// TLS configurations for server-to-server links (RFC 6120 §13.7.2, XEP-0178).
//
// On s2s the TLS layer must not be the one that rejects a peer: a peer without a usable
// certificate may still authenticate by dialback (XEP-0220), and only the XMPP layer knows which
// domain the certificate has to name (the stream's `from`, known after the handshake). So these
// contexts ask BoringSSL to *request* the peer's certificate and to hand it to a custom
// verification callback, which records the verdict (``PeerCertificateRecorder``) and always lets
// the handshake finish; see ``makeS2SServerHandler(context:recorder:verifier:now:)``.
//
// Why `.optionalVerification` and not `.noHostnameVerification`: NIOSSL maps
// `.noHostnameVerification` (and `.fullVerification`) to SSL_VERIFY_PEER |
// SSL_VERIFY_FAIL_IF_NO_PEER_CERT, which aborts the handshake of a peer that sends no client
// certificate, before any callback runs. `.optionalVerification` is SSL_VERIFY_PEER alone: the
// certificate is requested, the callback runs when one arrives, and a peer without one still
// connects (it must then use dialback). `.none` would not even request one, nor run the callback.
//
// The trust store given to BoringSSL is empty on purpose: the callback replaces BoringSSL's chain
// verification entirely, and ``TrustRoots`` are applied in Swift. A context made here and used
// with a plain `NIOSSLServerHandler(context:)` (no callback) therefore fails closed: every
// presented certificate is rejected at the TLS level.

/// Sets the peer-certificate options of an s2s configuration (see above): request the peer's
/// certificate without requiring it, and leave the decision to the custom verification callback
/// of ``makeS2SServerHandler(context:recorder:verifier:now:)`` /
/// ``makeS2SClientHandler(context:serverHostname:recorder:verifier:now:)``.
///
/// Use it with ``TLSContexts`` to build per-host s2s contexts:
/// ```swift
/// let s2s = try TLSContexts(identities: identities, applicationProtocols: [TLSContexts.xmppServerALPN]) { _, configuration in
///     configureS2SPeerCertificateRequest(&configuration)
/// }
/// ```
/// Direct TLS (XEP-0368): build the handler through `TLSSNIServerDecoder`'s `makeTLSHandler`
/// hook with ``makeS2SServerHandler(context:recorder:verifier:now:)``. A plain
/// `NIOSSLServerHandler` on such a context rejects every presented certificate (see above).
public func configureS2SPeerCertificateRequest(_ configuration: inout TLSConfiguration) {
    configuration.certificateVerification = .optionalVerification
    configuration.trustRoots = .certificates([])
    // The request lists no CA names: peers then send whichever certificate they have, which is
    // what XMPP servers expect (they present the same certificate in both directions).
    configuration.sendCANameList = false
}

/// The context for the accepting side of an s2s link (port 5269 after `<proceed/>`, or direct
/// TLS): presents `identity`, requests but does not require the peer's certificate.
///
/// Wrap it with ``makeS2SServerHandler(context:recorder:verifier:now:)``.
///
/// - Parameter applicationProtocols: ALPN names accepted; `xmpp-server` (XEP-0368 §3). A peer
///   offering none still connects.
/// - Throws: ``CertificateStoreError/contextFailed(host:reason:)`` when NIOSSL rejects the
///   identity (for example a key that does not match the leaf).
public func makeS2SServerContext(
    identity: TLSIdentity,
    applicationProtocols: [String] = [TLSContexts.xmppServerALPN]
) throws -> NIOSSLContext {
    var configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: identity.certificateSources,
        privateKey: identity.privateKeySource
    )
    configuration.minimumTLSVersion = .tlsv12
    configuration.applicationProtocols = applicationProtocols
    configureS2SPeerCertificateRequest(&configuration)
    return try makeS2SContext(configuration, identity: identity)
}

/// The context for the initiating side of an s2s link: presents `identity` as a client
/// certificate, so the peer can authenticate us with SASL EXTERNAL (XEP-0178 §3), and hands the
/// peer's certificate to the callback of
/// ``makeS2SClientHandler(context:serverHostname:recorder:verifier:now:)`` instead of failing
/// the handshake when it does not verify (we may still use dialback, XEP-0220).
///
/// - Parameter applicationProtocols: ALPN names offered; `xmpp-server` for direct TLS
///   (XEP-0368 §3). Harmless on STARTTLS.
/// - Throws: ``CertificateStoreError/contextFailed(host:reason:)`` when NIOSSL rejects the
///   identity.
public func makeS2SClientContext(
    identity: TLSIdentity,
    applicationProtocols: [String] = [TLSContexts.xmppServerALPN]
) throws -> NIOSSLContext {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.certificateChain = identity.certificateSources
    configuration.privateKey = identity.privateKeySource
    configuration.minimumTLSVersion = .tlsv12
    configuration.applicationProtocols = applicationProtocols
    configureS2SPeerCertificateRequest(&configuration)
    return try makeS2SContext(configuration, identity: identity)
}

private func makeS2SContext(_ configuration: TLSConfiguration, identity: TLSIdentity) throws -> NIOSSLContext {
    do {
        return try NIOSSLContext(configuration: configuration)
    } catch {
        // The identity has no host name of its own; its fingerprint tells the operator which one.
        throw CertificateStoreError.contextFailed(host: "s2s certificate \(identity.fingerprintSHA256)", reason: "\(error)")
    }
}
