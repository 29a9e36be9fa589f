import Crypto
import XMPPAddress

/// The server side of SCRAM-SHA-1, -SHA-256, -SHA-512 and their `-PLUS` variants
/// (RFC 5802, RFC 7677, draft-ietf-kitten-scram-sha-512), as a pure state machine.
///
/// Sequence: `start` (client-first, or an empty challenge when the client sent no initial response)
/// → `.needCredentials` → `provideCredentials` → `.challenge(server-first)` → `respond(client-final)`
/// → `.success(additionalData: server-final)` (RFC 6120 §6.3.10 carries server-final in `<success/>`).
public struct SCRAMServer: SASLServerMechanism {
    public let hash: SCRAMHash
    /// Whether this is the `-PLUS` (channel-binding) variant.
    public let plus: Bool
    public var name: String { hash.mechanismName(plus: plus) }

    private let channelBinding: ChannelBinding?
    private let plusAdvertised: Bool
    private let serverNonce: [UInt8]
    private let unknownUserIterations: Int
    private var state: State = .initial

    /// - Parameters:
    ///   - plus: the `-PLUS` variant: the client must bind to `channelBinding` (RFC 5802 §6).
    ///   - channelBinding: the binding this connection offers; needed when `plus` is true.
    ///   - plusAdvertised: whether the server offered any `-PLUS` mechanism on this stream. A client
    ///     that says `y` (it could bind but thinks the server cannot) is then seeing a downgrade and is
    ///     refused (RFC 5802 §6).
    ///   - nonce: the server's nonce part (printable ASCII other than ','; RFC 5802 §7). Tests inject
    ///     one; the default is 18 random bytes in base64.
    ///   - unknownUserIterations: the iteration count shown to clients naming an unknown account.
    ///     Set it to the count used for new accounts so that it does not tell the two apart.
    public init(
        hash: SCRAMHash,
        plus: Bool,
        channelBinding: ChannelBinding?,
        plusAdvertised: Bool,
        nonce: [UInt8] = SCRAMServer.makeNonce(),
        unknownUserIterations: Int = 4096
    ) {
        precondition(!nonce.isEmpty && nonce.allSatisfy(SCRAMServer.isPrintable), "SCRAM nonce must be printable ASCII without ','")
        precondition(SCRAMHash.validIterations.contains(unknownUserIterations), "iteration count out of range")
        self.hash = hash
        self.plus = plus
        self.channelBinding = channelBinding
        self.plusAdvertised = plusAdvertised
        self.serverNonce = nonce
        self.unknownUserIterations = unknownUserIterations
    }

    /// A fresh server nonce: 18 random bytes, base64 (24 printable characters).
    public static func makeNonce() -> [UInt8] {
        Base64.encode(secureRandomBytes(18))
    }

    // MARK: - State

    private enum CBindFlag: Sendable, Equatable {
        case notSupported          // "n"
        case supportedNotUsed      // "y"
        case used(type: String)    // "p=<cb-name>"
    }

    private struct ClientFirst: Sendable {
        var gs2Header: [UInt8]
        var flag: CBindFlag
        var authzid: String?
        var bare: [UInt8]
        var username: String
        var clientNonce: [UInt8]
    }

    private enum State: Sendable {
        case initial
        case awaitingClientFirst
        case awaitingCredentials(ClientFirst)
        case awaitingClientFinal(ClientFirst, serverFirst: [UInt8], credential: SCRAMCredential, accountExists: Bool)
        case finished
    }

    // MARK: - SASLServerMechanism

    public mutating func start(initialResponse: [UInt8]?) -> SASLServerOutput {
        guard case .initial = state else { return fail(.malformedRequest) }
        guard let initialResponse else {
            // SCRAM is client-first: ask for client-first with an empty challenge (RFC 6120 §6.4.2).
            state = .awaitingClientFirst
            return .challenge([])
        }
        return receiveClientFirst(initialResponse)
    }

    public mutating func respond(_ response: [UInt8]) -> SASLServerOutput {
        switch state {
        case .awaitingClientFirst:
            return receiveClientFirst(response)
        case let .awaitingClientFinal(first, serverFirst, credential, accountExists):
            return receiveClientFinal(response, first: first, serverFirst: serverFirst, credential: credential, accountExists: accountExists)
        case .initial, .awaitingCredentials, .finished:
            return fail(.malformedRequest)
        }
    }

    public mutating func provideCredentials(_ credential: SCRAMCredential?) -> SASLServerOutput {
        guard case let .awaitingCredentials(first) = state else { return fail(.malformedRequest) }
        // A credential for another hash or a malformed one cannot be used: treat it like an unknown
        // account, so that the exchange still looks normal and fails only at the end.
        let real = credential.flatMap { $0.hash == hash && $0.isUsable ? $0 : nil }
        let used = real ?? fakeCredential(username: first.username)
        // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count (RFC 5802 §7)
        var serverFirst = Array("r=".utf8) + first.clientNonce + serverNonce
        serverFirst += Array(",s=".utf8) + Base64.encode(used.salt)
        serverFirst += Array(",i=\(used.iterations)".utf8)
        state = .awaitingClientFinal(first, serverFirst: serverFirst, credential: used, accountExists: real != nil)
        return .challenge(serverFirst)
    }

    // MARK: - Steps

    private mutating func fail(_ condition: SASLFailure) -> SASLServerOutput {
        state = .finished
        return .failure(condition)
    }

    private mutating func receiveClientFirst(_ message: [UInt8]) -> SASLServerOutput {
        let first: ClientFirst
        switch Self.parseClientFirst(message) {
        case .success(let parsed): first = parsed
        case .failure(let condition): return fail(condition)
        }

        // Channel-binding negotiation (RFC 5802 §6).
        switch (plus, first.flag) {
        case (true, .used(let type)):
            // e=unsupported-channel-binding-type
            guard let channelBinding, channelBinding.type == type else { return fail(.notAuthorized) }
        case (true, _):
            // A -PLUS mechanism requires the 'p' flag.
            return fail(.malformedRequest)
        case (false, .used):
            // 'p' with a non-PLUS mechanism contradicts itself.
            return fail(.malformedRequest)
        case (false, .supportedNotUsed):
            // The client could bind but believes we cannot: if we advertised -PLUS, someone removed it
            // (e=server-does-support-channel-binding).
            if plusAdvertised { return fail(.notAuthorized) }
        case (false, .notSupported):
            break
        }

        // The username is syntactically fine SCRAM but may not be a valid PRECIS username
        // (RFC 8265 §3.3). Such a name can never match an account, so this is an authentication
        // failure (not-authorized, RFC 6120 §6.5.10) rather than a protocol violation; it tells the
        // client nothing about which accounts exist.
        var prepared = first
        do {
            prepared.username = try PRECIS.usernameCaseMapped(first.username)
        } catch {
            return fail(.notAuthorized)
        }
        state = .awaitingCredentials(prepared)
        return .needCredentials(username: prepared.username, hash: hash)
    }

    private mutating func receiveClientFinal(
        _ message: [UInt8], first: ClientFirst, serverFirst: [UInt8], credential: SCRAMCredential, accountExists: Bool
    ) -> SASLServerOutput {
        // client-final-message = channel-binding "," nonce ["," extensions] "," proof (RFC 5802 §7)
        let parts = message.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count >= 3,
              let cbind = Self.attribute("c", parts[0]).flatMap(Base64.decode),
              let nonce = Self.attribute("r", parts[1]),
              parts[2..<(parts.count - 1)].allSatisfy(Self.isExtension),
              let proof = Self.attribute("p", parts[parts.count - 1]).flatMap(Base64.decode),
              proof.count == hash.outputByteCount
        else { return fail(.malformedRequest) }
        let withoutProof = Array(message[..<(message.count - parts[parts.count - 1].count - 1)])

        // c= must repeat the gs2 header, followed by the binding data when 'p' was used (RFC 5802 §6).
        var expectedCBind = first.gs2Header
        if case .used = first.flag, let channelBinding { expectedCBind += channelBinding.data }
        guard constantTimeEqual(cbind, expectedCBind) else { return fail(.notAuthorized) }

        // The nonce must be exactly the one we sent in server-first (RFC 5802 §5.1).
        guard constantTimeEqual(Array(nonce), first.clientNonce + serverNonce) else { return fail(.notAuthorized) }

        // RFC 5802 §3:
        //   AuthMessage     := client-first-message-bare + "," + server-first-message + "," + client-final-message-without-proof
        //   ClientSignature := HMAC(StoredKey, AuthMessage)
        //   ClientKey       := ClientProof XOR ClientSignature; the proof is valid iff H(ClientKey) == StoredKey
        //   ServerSignature := HMAC(ServerKey, AuthMessage)
        let authMessage = first.bare + [UInt8(ascii: ",")] + serverFirst + [UInt8(ascii: ",")] + withoutProof
        let clientSignature = hash.hmac(key: credential.storedKey, authMessage)
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        let proofValid = constantTimeEqual(hash.digest(clientKey), credential.storedKey)
        // The proof is checked for unknown accounts as well, so both take the same path and time.
        guard proofValid && accountExists else { return fail(.notAuthorized) }

        let serverSignature = hash.hmac(key: credential.serverKey, authMessage)
        state = .finished
        return .success(
            additionalData: Array("v=".utf8) + Base64.encode(serverSignature),
            username: first.username,
            authzid: first.authzid
        )
    }

    // MARK: - Unknown accounts

    /// Per-process secret for fake salts: stable within a run (asking twice gives the same salt, as a
    /// real account would) and unpredictable across runs.
    private static let fakeSaltKey = SymmetricKey(size: .bits256)

    /// A credential for an account that does not exist, so that server-first looks like a real one
    /// and usernames cannot be enumerated (RFC 5802 §9 discusses the salt as account information).
    private func fakeCredential(username: String) -> SCRAMCredential {
        let seed = HMAC<SHA256>.authenticationCode(
            for: Array("\(hash.rawValue)\u{0}\(username)".utf8), using: Self.fakeSaltKey
        )
        let salt = Array(seed.prefix(16))
        return SCRAMCredential(
            hash: hash, salt: salt, iterations: unknownUserIterations,
            storedKey: hash.hmac(key: Array(seed), Array("Stored Key".utf8)),
            serverKey: hash.hmac(key: Array(seed), Array("Server Key".utf8))
        )
    }

    // MARK: - Parsing (RFC 5802 §7)

    private enum Parsed<Value> {
        case success(Value)
        case failure(SASLFailure)
    }

    /// client-first-message = gs2-header client-first-message-bare
    /// gs2-header = gs2-cbind-flag "," [ authzid ] ","
    /// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    private static func parseClientFirst(_ message: [UInt8]) -> Parsed<ClientFirst> {
        // No attribute value may contain ',' (saslname escapes it, nonces and base64 exclude it),
        // so splitting on ',' is exact.
        let parts = message.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count >= 4 else { return .failure(.malformedRequest) }

        let flag: CBindFlag
        switch Array(parts[0]) {
        case [UInt8(ascii: "n")]: flag = .notSupported
        case [UInt8(ascii: "y")]: flag = .supportedNotUsed
        default:
            // cb-name = 1*(ALPHA / DIGIT / "." / "-")
            guard let name = attribute("p", parts[0]), !name.isEmpty,
                  name.allSatisfy({ isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
            else { return .failure(.malformedRequest) }
            flag = .used(type: String(decoding: name, as: UTF8.self))
        }

        let authzid: String?
        if parts[1].isEmpty {
            authzid = nil
        } else {
            guard let encoded = attribute("a", parts[1]), let decoded = SASLName.decode(encoded) else {
                return .failure(.malformedRequest)
            }
            authzid = decoded
        }

        let headerLength = parts[0].count + parts[1].count + 2
        let gs2Header = Array(message[..<headerLength])
        let bare = Array(message[headerLength...])

        // reserved-mext: "its presence ... MUST cause authentication failure" (RFC 5802 §5.1). We do
        // not understand the message, so it is reported as malformed.
        if attribute("m", parts[2]) != nil { return .failure(.malformedRequest) }

        guard let encodedUsername = attribute("n", parts[2]),
              let username = SASLName.decode(encodedUsername),
              let clientNonce = attribute("r", parts[3]), !clientNonce.isEmpty,
              clientNonce.allSatisfy(isPrintable),
              parts[4...].allSatisfy(isExtension)
        else { return .failure(.malformedRequest) }

        return .success(ClientFirst(
            gs2Header: gs2Header, flag: flag, authzid: authzid, bare: bare,
            username: username, clientNonce: Array(clientNonce)
        ))
    }

    /// The value of `<name>=<value>` if `part` is that attribute.
    private static func attribute(_ name: Character, _ part: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard part.count >= 2,
              part[part.startIndex] == name.asciiValue,
              part[part.startIndex + 1] == UInt8(ascii: "=")
        else { return nil }
        return part[(part.startIndex + 2)...]
    }

    /// attr-val = ALPHA "=" value; value = 1*value-char (any UTF-8 but NUL and ',').
    /// Unknown optional extensions are ignored (RFC 5802 §5.1).
    private static func isExtension(_ part: ArraySlice<UInt8>) -> Bool {
        guard part.count >= 3, isAlpha(part[part.startIndex]), part[part.startIndex + 1] == UInt8(ascii: "=") else { return false }
        return !part.contains(0) && String(validating: part, as: UTF8.self) != nil
    }

    /// printable = %x21-2B / %x2D-7E (the nonce alphabet).
    private static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) && byte != UInt8(ascii: ",")
    }

    private static func isAlpha(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
