/// What a server mechanism wants the driver to do next.
public enum SASLServerOutput: Sendable, Hashable {
    /// Send `<challenge/>` with these bytes (base64 on the wire, `=` when empty; RFC 6120 §6.4.2).
    case challenge([UInt8])
    /// Look up the account's credential for `hash` and call `provideCredentials(_:)`.
    /// `username` is already normalised (PRECIS UsernameCaseMapped, RFC 8265 §3.3).
    case needCredentials(username: String, hash: SCRAMHash)
    /// Send `<success/>`, with `additionalData` if present (RFC 6120 §6.3.10).
    ///
    /// `username` is the normalised authentication identity. `authzid` is the authorization identity
    /// exactly as the client sent it (decoded, not normalised); the mechanism does not judge it.
    /// The driver MUST check it (typically: nil, or equal to the bare JID `username@host`) and answer
    /// `invalid-authzid` instead of success when it is not acceptable (RFC 6120 §6.4.6).
    case success(additionalData: [UInt8]?, username: String, authzid: String?)
    /// Send `<failure/>` with this condition; the exchange is over.
    case failure(SASLFailure)
}
