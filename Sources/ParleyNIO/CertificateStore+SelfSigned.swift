import Crypto
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension CertificateStore {
    /// A self-signed server certificate and its key, both PEM.
    public struct SelfSignedPEM: Sendable {
        public let certificatePEM: String
        public let privateKeyPEM: String
    }

    /// Makes a self-signed certificate for `host`: P-256 key, ECDSA-SHA256 signature,
    /// subject `CN=<host>`, subjectAltName `dNSName=<host>` (or `iPAddress` for an IP literal)
    /// plus `additionalNames`, valid from one hour before `now` (clock skew) for ten years,
    /// random 20-byte serial, basicConstraints CA:FALSE, extendedKeyUsage serverAuth and
    /// clientAuth, and deliberately no keyUsage extension (see below).
    ///
    /// No `*.<host>` wildcard: a wildcard covers exactly one label, which would include the
    /// host's component subdomains (`conference.<host>`, `upload.<host>`) but also every other
    /// name under the host. Pass the components you serve as `additionalNames` instead.
    ///
    /// clientAuth is there because a server also acts as a TLS client on outgoing s2s links,
    /// where the peer may authenticate it by this certificate (RFC 6120 §13.7.2, XEP-0178).
    ///
    /// Clients cannot chain-verify a self-signed certificate to a public root; they pin it,
    /// by fingerprint (``TLSIdentity/fingerprintSHA256``) or by trusting the `.crt` file as a
    /// root. Why no keyUsage: BoringSSL (NIOSSL, Chrome, Android) treats a certificate as
    /// self-signed only if a present keyUsage includes keyCertSign, and keyCertSign needs CA:TRUE
    /// (RFC 5280 §4.2.1.3). With keyUsage digitalSignature alone, pinning the file as the only
    /// trust root fails with CERTIFICATE_VERIFY_FAILED (measured); without the extension it
    /// succeeds. keyUsage is optional for end-entity certificates (RFC 5280 §4.2.1.3), and when
    /// absent no usage is restricted.
    public static func makeSelfSigned(
        host: String,
        additionalNames: [String] = [],
        now: Date = Date()
    ) throws -> SelfSignedPEM {
        let swiftCryptoKey = P256.Signing.PrivateKey()
        let key = Certificate.PrivateKey(swiftCryptoKey)
        let name = try DistinguishedName {
            CommonName(host)
        }
        var seen = Set<String>()
        let sanNames: [GeneralName] = ([host] + additionalNames).compactMap { raw in
            let name = raw.lowercased()
            guard !name.isEmpty, seen.insert(name).inserted else { return nil }
            return generalName(for: name)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames(sanNames)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: tenYears(after: now),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: key
        )
        return SelfSignedPEM(
            certificatePEM: try certificate.serializeAsPEM().pemString + "\n",
            privateKeyPEM: swiftCryptoKey.pemRepresentation + "\n"
        )
    }

    static func tenYears(after date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(byAdding: .year, value: 10, to: date) ?? date.addingTimeInterval(3652 * 86400)
    }

    /// An XMPP domain may be an IP literal (RFC 7622 §3.2); such names go into iPAddress,
    /// not dNSName (RFC 5280 §4.2.1.6).
    static func generalName(for name: String) -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            let bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return .ipAddress(ASN1OctetString(contentBytes: bytes[...]))
        }
        let literal = name.hasPrefix("[") && name.hasSuffix("]") ? String(name.dropFirst().dropLast()) : name
        var v6 = in6_addr()
        if inet_pton(AF_INET6, literal, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return .ipAddress(ASN1OctetString(contentBytes: bytes[...]))
        }
        return .dnsName(name)
    }
}
