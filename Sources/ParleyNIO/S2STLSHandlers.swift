import Foundation
import NIOCore
import NIOSSL

/// The TLS handler for the accepting side of an s2s link, with a verification callback that
/// evaluates the peer's client certificate (if any) and stores the result in `recorder`.
///
/// Add it like any `NIOSSLServerHandler` (after `<proceed/>`, at `.first`, in the same
/// event-loop tick). Once the handshake has completed (`TLSUserEvent.handshakeCompleted`),
/// `recorder.info` is the peer certificate's ``PeerCertificateInfo``, or nil when the peer sent
/// none.
///
/// - Parameters:
///   - context: from ``makeS2SServerContext(identity:applicationProtocols:)``, or a
///     ``TLSContexts`` entry configured with ``configureS2SPeerCertificateRequest(_:)``.
///   - now: the clock for certificate validity, injectable for tests.
public func makeS2SServerHandler(
    context: NIOSSLContext,
    recorder: PeerCertificateRecorder,
    verifier: PeerCertificateVerifier,
    now: @escaping @Sendable () -> Date = { Date() }
) -> NIOSSLServerHandler {
    NIOSSLServerHandler(
        context: context,
        customVerificationCallback: s2sVerificationCallback(recorder: recorder, verifier: verifier, now: now)
    )
}

/// The TLS handler for the initiating side of an s2s link, with a verification callback that
/// evaluates the peer server's certificate and stores the result in `recorder` (read it after
/// the handshake completes, as with ``makeS2SServerHandler(context:recorder:verifier:now:)``).
///
/// - Parameters:
///   - context: from ``makeS2SClientContext(identity:applicationProtocols:)``.
///   - serverHostname: the XMPP domain we are connecting to, not the SRV target
///     (RFC 6120 §13.7.2.1, XEP-0368 §3), sent as SNI so the peer picks that domain's
///     certificate. Pass nil for an IP-literal domain: SNI cannot carry one.
/// - Throws: NIOSSL's error when `serverHostname` is not a valid SNI name.
public func makeS2SClientHandler(
    context: NIOSSLContext,
    serverHostname: String?,
    recorder: PeerCertificateRecorder,
    verifier: PeerCertificateVerifier,
    now: @escaping @Sendable () -> Date = { Date() }
) throws -> NIOSSLClientHandler {
    try NIOSSLClientHandler(
        context: context,
        serverHostname: serverHostname,
        customVerificationCallback: s2sVerificationCallback(recorder: recorder, verifier: verifier, now: now)
    )
}

/// Evaluates the peer's chain, records the verdict, then accepts the certificate at the TLS
/// level whatever the verdict.
///
/// Why accepting every certificate here is safe: TLS-level acceptance authenticates nobody. It
/// only gives an encrypted channel to *some* peer. Authentication of the peer's domain happens
/// in the XMPP layer, which must read ``PeerCertificateRecorder/info`` and
///  - offer SASL EXTERNAL to an initiating peer, and accept its `<auth/>` for a domain, only
///    when `info?.isValid(for: domain) == true` (XEP-0178 §3–4, RFC 6120 §13.7.2);
///  - otherwise authenticate the domain by dialback (XEP-0220) or close the stream, per policy;
///  - never route stanzas for a domain that neither succeeded.
/// Failing the handshake instead would make dialback impossible for peers with self-signed or
/// wrong-name certificates, and would decide before we know which domain the certificate must
/// name (the stream's `from` arrives after TLS).
///
/// The callback runs on the event loop and must not block, so the async evaluation runs in a
/// task; BoringSSL waits for the promise and resumes the handshake on the event loop. The
/// recorder is written before the promise is completed, so it is final when the handshake
/// completes. A resumed TLS session skips verification: the recorder then stays nil and the peer
/// is treated as having presented no certificate (it falls back to dialback), which is safe.
private func s2sVerificationCallback(
    recorder: PeerCertificateRecorder,
    verifier: PeerCertificateVerifier,
    now: @escaping @Sendable () -> Date
) -> NIOSSLCustomVerificationCallback {
    { chain, promise in
        Task {
            let info = await verifier.evaluate(chain: chain, now: now())
            recorder.record(info)
            promise.succeed(.certificateVerified)
        }
    }
}
