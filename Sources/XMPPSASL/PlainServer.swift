import XMPPAddress

/// The server side of PLAIN (RFC 4616), checked against stored SCRAM keys: the password is salted
/// with the credential's salt and iteration count and the resulting StoredKey compared in constant
/// time, so no plaintext password is ever stored.
///
/// Asks for the `.sha256` credential (any usable hash works if the driver substitutes another).
/// An authzid, if the client sent one, is returned in `.success` for the driver to judge
/// (`invalid-authzid` unless it equals the authenticated bare JID; RFC 6120 §6.4.6).
public struct PlainServer: SASLServerMechanism {
    public var name: String { "PLAIN" }

    private enum State: Sendable {
        case initial
        case awaitingResponse
        case awaitingCredentials(authzid: String?, username: String, password: [UInt8])
        case finished
    }

    private var state: State = .initial

    public init() {}

    public mutating func start(initialResponse: [UInt8]?) -> SASLServerOutput {
        guard case .initial = state else { return fail(.malformedRequest) }
        guard let initialResponse else {
            // No initial response: an empty challenge asks for the message (RFC 4616 §2, RFC 6120 §6.4.2).
            state = .awaitingResponse
            return .challenge([])
        }
        return receive(initialResponse)
    }

    public mutating func respond(_ response: [UInt8]) -> SASLServerOutput {
        guard case .awaitingResponse = state else { return fail(.malformedRequest) }
        return receive(response)
    }

    public mutating func provideCredentials(_ credential: SCRAMCredential?) -> SASLServerOutput {
        guard case let .awaitingCredentials(authzid, username, password) = state else { return fail(.malformedRequest) }
        guard let credential, credential.isUsable,
              let salted = credential.hash.saltedPassword(password, salt: credential.salt, iterations: credential.iterations)
        else {
            // Spend about the time a real check takes so that unknown accounts are not obvious.
            _ = SCRAMHash.sha256.saltedPassword(password, salt: Array(repeating: 0, count: 16), iterations: 4096)
            return fail(.notAuthorized)
        }
        let storedKey = credential.hash.keys(saltedPassword: salted).storedKey
        guard constantTimeEqual(storedKey, credential.storedKey) else { return fail(.notAuthorized) }
        state = .finished
        return .success(additionalData: nil, username: username, authzid: authzid)
    }

    private mutating func fail(_ condition: SASLFailure) -> SASLServerOutput {
        state = .finished
        return .failure(condition)
    }

    /// message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 §2)
    private mutating func receive(_ message: [UInt8]) -> SASLServerOutput {
        let fields = message.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3,
              !fields[1].isEmpty, !fields[2].isEmpty, !fields[2].contains(0),
              let authzid = String(validating: fields[0], as: UTF8.self),
              let authcid = String(validating: fields[1], as: UTF8.self),
              let passwd = String(validating: fields[2], as: UTF8.self)
        else { return fail(.malformedRequest) }

        // Prepare as account creation did: UsernameCaseMapped for the name (RFC 8265 §3.3) and
        // OpaqueString for the password (RFC 8265 §4.2). A string the profiles refuse cannot match
        // any account, so that is an authentication failure, not a syntax error.
        let username: String
        let password: String
        do {
            username = try PRECIS.usernameCaseMapped(authcid)
            password = try PRECIS.opaqueString(passwd)
        } catch {
            return fail(.notAuthorized)
        }
        state = .awaitingCredentials(authzid: authzid.isEmpty ? nil : authzid, username: username, password: Array(password.utf8))
        return .needCredentials(username: username, hash: .sha256)
    }
}
