import Crypto
import _CryptoExtras

/// The hash functions SCRAM is offered with (RFC 5802, RFC 7677).
public enum SCRAMHash: String, CaseIterable, Sendable, Codable, Hashable {
    case sha1 = "SHA-1"
    case sha256 = "SHA-256"
    case sha512 = "SHA-512"

    /// The SASL mechanism name, e.g. `SCRAM-SHA-256` or `SCRAM-SHA-256-PLUS`.
    public func mechanismName(plus: Bool) -> String {
        "SCRAM-" + rawValue + (plus ? "-PLUS" : "")
    }
}

/// What the server keeps for one account and one hash: never the password (RFC 5802 §5).
public struct SCRAMCredential: Sendable, Hashable, Codable {
    public var hash: SCRAMHash
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(hash: SCRAMHash, salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.hash = hash
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }
}
