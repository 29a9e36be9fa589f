import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate authorities a server trusts when it checks a peer server's certificate on an
/// s2s link (RFC 6120 §13.7.2, XEP-0178).
///
/// By default this is the operating system's bundle (``systemBundlePath``, Debian/Ubuntu/Alpine
/// layout); an operator may point it at another PEM file, for example a private federation's CA.
/// A root may also be a peer's own end-entity certificate (a pinned self-signed certificate,
/// such as the ones ``CertificateStore`` generates): the verifier then trusts exactly that
/// certificate. Loaded once at start-up and shared: the parsed certificates and the lookup structure the
/// verifier needs are both built here, not per connection.
public struct TrustRoots: Sendable {
    /// Debian, Ubuntu, Arch and Alpine keep the system's trusted CAs here, one PEM file.
    public static let systemBundlePath = "/etc/ssl/certs/ca-certificates.crt"

    /// The trusted CA certificates.
    public let certificates: [Certificate]
    /// Where they came from, for logs; nil when built from memory.
    public let path: String?
    /// PEM blocks in the file that swift-certificates could not parse and that were skipped.
    /// Large system bundles occasionally hold a certificate with an encoding quirk; one bad
    /// entry must not cost us every other root, but the count is worth logging.
    public let skippedCount: Int
    /// `certificates` indexed by subject, as `Verifier` takes them.
    let store: X509.CertificateStore
    /// `certificates` for exact-match lookups (pinned end-entity certificates).
    let pinned: Set<Certificate>

    /// Trusts exactly these certificates (tests, pinned federation CAs).
    public init(certificates: [Certificate]) {
        self.certificates = certificates
        self.path = nil
        self.skippedCount = 0
        self.store = X509.CertificateStore(certificates)
        self.pinned = Set(certificates)
    }

    /// Loads every certificate of a PEM bundle.
    ///
    /// - Parameter path: the bundle; the system store by default.
    /// - Throws: ``TrustRootsError/unreadable(path:reason:)`` when the file cannot be read,
    ///   ``TrustRootsError/noCertificates(path:)`` when it holds no usable certificate (empty,
    ///   not PEM, or only unparsable blocks).
    public init(pemFile path: String = TrustRoots.systemBundlePath) throws(TrustRootsError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: Self.describe(error))
        }
        try self.init(pemBytes: Array(data), path: path)
    }

    /// Loads every certificate of PEM text held in memory.
    ///
    /// - Parameter path: only used in errors and ``path``.
    public init(pemBytes: [UInt8], path: String? = nil) throws(TrustRootsError) {
        let text = String(decoding: pemBytes, as: UTF8.self)
        var certificates: [Certificate] = []
        var skipped = 0
        // Block by block rather than `PEMDocument.parseMultiple`, which gives up on the whole
        // text at the first malformed block.
        for block in Self.certificateBlocks(in: text) {
            do {
                certificates.append(try Certificate(pemEncoded: block))
            } catch {
                skipped += 1
            }
        }
        guard !certificates.isEmpty else {
            throw .noCertificates(path: path)
        }
        self.certificates = certificates
        self.path = path
        self.skippedCount = skipped
        self.store = X509.CertificateStore(certificates)
        self.pinned = Set(certificates)
    }

    /// The roots as NIOSSL certificates, for a `TLSConfiguration.trustRoots` that lets
    /// BoringSSL itself verify (not needed by the s2s helpers, which decide in Swift).
    public func makeNIOSSLCertificates() throws -> [NIOSSLCertificate] {
        try certificates.map { certificate in
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
        }
    }

    /// The text of each `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----` block.
    /// Other block types (a stray private key, `TRUSTED CERTIFICATE`) are ignored.
    static func certificateBlocks(in text: String) -> [String] {
        let begin = "-----BEGIN CERTIFICATE-----"
        let end = "-----END CERTIFICATE-----"
        var blocks: [String] = []
        var rest = text[...]
        while let start = rest.range(of: begin) {
            guard let stop = rest.range(of: end, range: start.upperBound ..< rest.endIndex) else { break }
            blocks.append(String(rest[start.lowerBound ..< stop.upperBound]))
            rest = rest[stop.upperBound...]
        }
        return blocks
    }

    private static func describe(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError, let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError {
            return underlying.localizedDescription
        }
        return (error as NSError).localizedDescription
    }
}
