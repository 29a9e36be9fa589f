import Crypto
import NIOSSL

/// What a server presents in a TLS handshake for one host: the certificate chain (leaf first),
/// its private key, and the facts about the leaf the rest of the server needs.
///
/// Build it with ``CertificateStore/loadOrGenerate(host:additionalNames:now:)`` (the data
/// directory's `certs/<host>.crt` and `.key`, made on first run) or
/// ``CertificateStore/load(certificateChainPath:privateKeyPath:)`` (certificates the operator
/// configured).
public struct TLSIdentity: Sendable {
    /// The chain to send, leaf first, then any intermediates.
    public let certificateChain: [NIOSSLCertificate]
    /// The private key matching the leaf.
    public let privateKey: NIOSSLPrivateKey
    /// The leaf certificate's DER encoding, as sent on the wire. Input to
    /// tls-server-end-point channel binding (RFC 5929 §4.1).
    public let leafDER: [UInt8]
    /// SHA-256 of ``leafDER`` as upper-case hex pairs joined by colons
    /// (`AB:CD:…`, the format of `openssl x509 -fingerprint -sha256`). Logged when a certificate is
    /// made so users can compare it with what their client shows.
    public let fingerprintSHA256: String

    /// Wraps an already loaded chain and key.
    ///
    /// - Throws: ``CertificateStoreError/emptyCertificateChain(path:)`` when `certificateChain` is
    ///   empty, or NIOSSL's error when the leaf cannot be encoded.
    public init(certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) throws {
        guard let leaf = certificateChain.first else {
            throw CertificateStoreError.emptyCertificateChain(path: nil)
        }
        let der = try leaf.toDERBytes()
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.leafDER = der
        self.fingerprintSHA256 = TLSIdentity.fingerprintSHA256(ofDER: der)
    }

    /// The chain in the form `TLSConfiguration` takes.
    public var certificateSources: [NIOSSLCertificateSource] {
        certificateChain.map { .certificate($0) }
    }

    /// The key in the form `TLSConfiguration` takes.
    public var privateKeySource: NIOSSLPrivateKeySource {
        .privateKey(privateKey)
    }

    /// SHA-256 of `der` as colon-separated upper-case hex (`AB:CD:…`).
    public static func fingerprintSHA256(ofDER der: [UInt8]) -> String {
        colonHex(SHA256.hash(data: der))
    }

    static func colonHex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits: [Character] = Array("0123456789ABCDEF")
        var out = ""
        for byte in bytes {
            if !out.isEmpty { out.append(":") }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return out
    }
}
