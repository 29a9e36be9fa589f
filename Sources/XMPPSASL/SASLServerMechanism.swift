/// A server-side SASL mechanism as a pure state machine: no I/O, no storage access.
///
/// The driver decodes base64 from `<auth/>` and `<response/>` itself (bad base64 is
/// `incorrect-encoding`, RFC 6120 §6.4.2) and feeds the bytes in. Calls made in the wrong state
/// return `.failure(.malformedRequest)`; after `.success` or `.failure` every call does.
public protocol SASLServerMechanism: Sendable {
    /// The mechanism name as advertised, e.g. `PLAIN` or `SCRAM-SHA-256-PLUS`.
    var name: String { get }
    /// Begins the exchange. `initialResponse` is nil when the client sent none, and empty when it
    /// sent `=` (an empty initial response; RFC 6120 §6.4.2).
    mutating func start(initialResponse: [UInt8]?) -> SASLServerOutput
    /// Feeds the client's `<response/>` payload.
    mutating func respond(_ response: [UInt8]) -> SASLServerOutput
    /// Answers `.needCredentials`; nil means no such account (or no credential for that hash).
    mutating func provideCredentials(_ credential: SCRAMCredential?) -> SASLServerOutput
}
