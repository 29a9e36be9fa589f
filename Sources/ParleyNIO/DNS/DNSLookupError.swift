/// Why a DNS lookup produced nothing.
///
/// The distinction matters to callers: `notFound` is an authoritative "there is nothing" (NXDOMAIN or
/// NODATA) and permits fallbacks such as RFC 6120 §3.2.2's A/AAAA on the default port, while
/// `temporaryFailure` (SERVFAIL, timeout, refusal, local resolver trouble) says nothing about the
/// name, so the lookup may be retried later.
public enum DNSLookupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name does not exist, or has no records of the asked type.
    case notFound
    /// The answer could not be had now; the reason is for logs.
    case temporaryFailure(String)

    public var description: String {
        switch self {
        case .notFound:
            return "no such DNS records"
        case .temporaryFailure(let reason):
            return "temporary DNS failure: \(reason)"
        }
    }
}
