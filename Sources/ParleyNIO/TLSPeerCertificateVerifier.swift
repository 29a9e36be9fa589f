import Foundation
import NIOSSL
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// Checks a peer server's certificate chain against ``TrustRoots`` and reads the identities
/// its leaf presents, for s2s authentication by certificate (RFC 6120 §13.7.2, XEP-0178).
///
/// It decides nothing by itself: it returns a ``PeerCertificateInfo`` and the s2s layer asks
/// ``PeerCertificateInfo/isValid(for:)`` with the domain at stake.
///
/// The chain is checked with swift-certificates' RFC 5280 policy: signatures, validity period
/// (at `now`), basicConstraints, nameConstraints, path building through the intermediates the
/// peer sent. Deliberately not required: extendedKeyUsage clientAuth on a certificate a peer
/// presents as a TLS client. Public CAs are dropping clientAuth from server certificates
/// (Let's Encrypt from 2025–2026), and XMPP servers present the same certificate in both
/// directions; Prosody and ejabberd do not insist either.
public struct PeerCertificateVerifier: Sendable {
    public let roots: TrustRoots

    public init(roots: TrustRoots) {
        self.roots = roots
    }

    /// Evaluates the chain a peer presented (leaf first, as NIOSSL hands it over).
    ///
    /// Never throws: an empty chain, a leaf that does not parse, or a chain that does not
    /// validate gives `chainTrusted == false` with the reason in ``PeerCertificateInfo/failure``.
    public func evaluate(chain: [NIOSSLCertificate], now: Date = Date()) async -> PeerCertificateInfo {
        guard let leafNIO = chain.first else {
            return PeerCertificateInfo(chainTrusted: false, failure: "the peer presented no certificate")
        }
        let leaf: Certificate
        do {
            leaf = try Certificate(derEncoded: try leafNIO.toDERBytes())
        } catch {
            return PeerCertificateInfo(chainTrusted: false, failure: "cannot parse the peer's certificate: \(error)")
        }
        // An intermediate we cannot parse cannot be part of a valid path; skip it and let path
        // building report the gap if it mattered.
        let intermediates = chain.dropFirst().compactMap { certificate in
            (try? certificate.toDERBytes()).flatMap { try? Certificate(derEncoded: $0) }
        }
        return await evaluate(leaf: leaf, intermediates: intermediates, now: now)
    }

    /// Evaluates an already parsed leaf and the intermediates sent with it.
    public func evaluate(leaf: Certificate, intermediates: [Certificate] = [], now: Date = Date()) async -> PeerCertificateInfo {
        var info = Self.names(of: leaf)
        if info.failure != nil {
            // Unreadable subjectAltName: we cannot tell which identities the certificate
            // presents (nor whether the CN fallback applies), so it authenticates nothing.
            return info
        }
        if roots.pinned.contains(leaf) {
            // An end-entity certificate the operator listed among the roots (pinning, typically a
            // peer's self-signed certificate): trusted as itself, within its validity period.
            // swift-certificates' RFC 5280 policy refuses a root that is not a CA, so this case
            // is decided here (BoringSSL's pinning behaves the same way).
            if now < leaf.notValidBefore || now > leaf.notValidAfter {
                info.failure = Self.describe([], leaf: leaf, now: now)
            } else {
                info.chainTrusted = true
            }
            return info
        }
        var verifier = Verifier(rootCertificates: roots.store) {
            RFC5280Policy(fixedExpiryValidationTime: now)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: X509.CertificateStore(intermediates))
        switch result {
        case .validCertificate:
            info.chainTrusted = true
            info.failure = nil
        case .couldNotValidate(let failures):
            info.chainTrusted = false
            info.failure = Self.describe(failures, leaf: leaf, now: now)
        }
        return info
    }

    /// id-on-xmppAddr (RFC 6120 §13.7.1.4).
    static let xmppAddrOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 8, 5]
    /// id-on-dnsSRV (RFC 4985 §2).
    static let dnsSRVOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 8, 7]

    /// The identities `leaf` presents; `chainTrusted` false. Sets `failure` when the
    /// subjectAltName extension, or one of its XMPP-relevant entries, cannot be decoded.
    static func names(of leaf: Certificate) -> PeerCertificateInfo {
        var info = PeerCertificateInfo(chainTrusted: false)
        for rdn in leaf.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                if let name = String(attribute.value) { info.commonNames.append(name) }
            }
        }
        let subjectAltNames: SubjectAlternativeNames?
        do {
            subjectAltNames = try leaf.extensions.subjectAlternativeNames
        } catch {
            info.failure = "malformed subjectAltName extension: \(error)"
            return info
        }
        for name in subjectAltNames ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dns):
                info.dnsNames.append(dns)
            case .uniformResourceIdentifier(let uri):
                info.uris.append(uri)
            case .otherName(let other) where other.typeID == xmppAddrOID:
                // XmppAddr ::= UTF8String (RFC 6120 §13.7.1.4).
                guard let value = other.value, let text = try? ASN1UTF8String(asn1Any: value) else {
                    info.failure = "malformed id-on-xmppAddr in subjectAltName"
                    return info
                }
                info.xmppAddrs.append(String(text))
            case .otherName(let other) where other.typeID == dnsSRVOID:
                // SRVName ::= IA5String (RFC 4985 §2).
                guard let value = other.value, let text = try? ASN1IA5String(asn1Any: value) else {
                    info.failure = "malformed id-on-dnsSRV in subjectAltName"
                    return info
                }
                info.srvNames.append(String(text))
            default:
                // iPAddress, rfc822Name, other otherNames: not identities of an XMPP domain.
                continue
            }
        }
        return info
    }

    /// A short reason for logs. The policy reasons swift-certificates gives are precise but
    /// long (they print whole certificates), so the common cases get their own wording first.
    private static func describe(
        _ failures: [CertificateValidationResult.PolicyFailure],
        leaf: Certificate,
        now: Date
    ) -> String {
        if now < leaf.notValidBefore {
            return "the certificate is not valid before \(leaf.notValidBefore)"
        }
        if now > leaf.notValidAfter {
            return "the certificate expired on \(leaf.notValidAfter)"
        }
        if leaf.issuer == leaf.subject, failures.isEmpty {
            return "self-signed certificate not among the trusted roots"
        }
        guard let first = failures.first else {
            return "no chain to a trusted root (issuer: \(leaf.issuer))"
        }
        let reason = first.policyFailureReason.description
        let limit = 300
        return reason.count > limit ? String(reason.prefix(limit)) + "…" : reason
    }
}
