import Crypto
import X509

/// The tls-server-end-point channel-binding data for a server certificate (RFC 5929 §4.1),
/// used by SCRAM-*-PLUS (RFC 5802 §6) when the client picks that binding type.
///
/// The data is the hash of the certificate's DER encoding, with the hash function of the
/// certificate's signature algorithm, except that MD5 and SHA-1 are replaced by SHA-256
/// (RFC 5929 §4.1). Algorithms the RFC leaves undefined (Ed25519, which has no separate hash;
/// RSA-PSS, whose hash sits in parameters) and certificates that do not parse also get SHA-256,
/// the choice other implementations make; a server never serves such a certificate in practice.
///
/// - Parameter leafDER: the DER of the certificate the server sends (the leaf, not the chain).
public func tlsServerEndPointBinding(leafDER: [UInt8]) -> [UInt8] {
    let algorithm = try? Certificate(derEncoded: leafDER).signatureAlgorithm
    switch algorithm {
    case .some(.ecdsaWithSHA384), .some(.sha384WithRSAEncryption):
        return Array(SHA384.hash(data: leafDER))
    case .some(.ecdsaWithSHA512), .some(.sha512WithRSAEncryption):
        return Array(SHA512.hash(data: leafDER))
    default:
        // ecdsaWithSHA256, sha256WithRSAEncryption, and the RFC 5929 §4.1 MD5/SHA-1 upgrade.
        return Array(SHA256.hash(data: leafDER))
    }
}
