/// Why ``TrustRoots`` could not be loaded.
public enum TrustRootsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bundle could not be read (missing, permissions, a directory).
    case unreadable(path: String, reason: String)
    /// The bundle holds no certificate swift-certificates can parse.
    case noCertificates(path: String?)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read the trusted CA bundle \(path): \(reason)"
        case .noCertificates(let path):
            return "no CA certificate found" + (path.map { " in \($0)" } ?? "")
                + "; s2s certificate authentication needs at least one trusted root"
        }
    }
}
