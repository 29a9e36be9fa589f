/// Why a certificate could not be loaded, generated or turned into a TLS context.
///
/// (Not named `CertificateError`: swift-certificates' `X509` module already has a type by that name.)
public enum CertificateStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The host name cannot be used as a file name (empty, contains `/` or NUL, or starts with `.`).
    case invalidHostName(String)
    /// Only one of `<host>.crt` and `<host>.key` exists. We refuse to overwrite the other one,
    /// which may be the operator's.
    case incompletePair(existing: String, missing: String)
    /// A PEM file held no certificate.
    case emptyCertificateChain(path: String?)
    /// Reading or writing a file failed.
    case fileSystem(path: String, reason: String)
    /// NIOSSL or swift-certificates rejected the material.
    case invalidMaterial(path: String?, reason: String)
    /// `TLSContexts` was given no hosts, or a default host it does not know.
    case noSuchHost(String)
    /// Building the NIOSSL context for a host failed (for example, the key does not match the leaf).
    case contextFailed(host: String, reason: String)

    public var description: String {
        switch self {
        case .invalidHostName(let host):
            return "host name \"\(host)\" cannot be used as a certificate file name"
        case .incompletePair(let existing, let missing):
            return "\(existing) exists but \(missing) does not; supply both, or remove \(existing) to have a self-signed pair generated"
        case .emptyCertificateChain(let path):
            return "no certificate found" + (path.map { " in \($0)" } ?? "")
        case .fileSystem(let path, let reason):
            return "\(path): \(reason)"
        case .invalidMaterial(let path, let reason):
            return (path.map { "\($0): " } ?? "") + reason
        case .noSuchHost(let host):
            return "no TLS certificate configured for host \"\(host)\""
        case .contextFailed(let host, let reason):
            return "cannot build the TLS context for \(host): \(reason)"
        }
    }
}
