import Synchronization

/// Holds what ``PeerCertificateVerifier`` found about one connection's peer certificate, from
/// the TLS verification callback (``makeS2SServerHandler(context:recorder:verifier:now:)``,
/// ``makeS2SClientHandler(context:serverHostname:recorder:verifier:now:)``) until the s2s driver
/// reads it.
///
/// One recorder per connection. The callback stores before it lets the handshake continue, so
/// once the driver sees the handshake complete (`TLSUserEvent.handshakeCompleted`) ``info`` is
/// final: the peer's certificate details, or nil when the peer sent no certificate (possible
/// only on the accepting side: a client certificate is requested, not required).
public final class PeerCertificateRecorder: Sendable {
    private let state = Mutex<PeerCertificateInfo?>(nil)

    public init() {}

    /// The evaluation of the peer's certificate; nil if none was presented (or the handshake
    /// has not got that far).
    public var info: PeerCertificateInfo? {
        state.withLock { $0 }
    }

    /// Stores the evaluation; called by the verification callback.
    public func record(_ info: PeerCertificateInfo) {
        state.withLock { $0 = info }
    }
}
