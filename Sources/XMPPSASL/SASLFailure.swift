/// A SASL failure condition, sent as the child of `<failure/>` (RFC 6120 §6.5).
///
/// The raw value is the element name.
public enum SASLFailure: String, Sendable, Hashable, Error {
    case aborted
    case accountDisabled = "account-disabled"
    case credentialsExpired = "credentials-expired"
    case encryptionRequired = "encryption-required"
    case incorrectEncoding = "incorrect-encoding"
    case invalidAuthzid = "invalid-authzid"
    case invalidMechanism = "invalid-mechanism"
    case malformedRequest = "malformed-request"
    case mechanismTooWeak = "mechanism-too-weak"
    case notAuthorized = "not-authorized"
    case temporaryAuthFailure = "temporary-auth-failure"
}
