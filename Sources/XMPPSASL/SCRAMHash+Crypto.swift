import Crypto
import _CryptoExtras

// The SCRAM primitives of RFC 5802 §2.2 for each hash.
extension SCRAMHash {
    /// The digest (and HMAC) length in bytes.
    var outputByteCount: Int {
        switch self {
        case .sha1: Insecure.SHA1.byteCount
        case .sha256: SHA256.byteCount
        case .sha512: SHA512.byteCount
        }
    }

    /// H(data).
    func digest(_ data: [UInt8]) -> [UInt8] {
        switch self {
        case .sha1: Array(Insecure.SHA1.hash(data: data))
        case .sha256: Array(SHA256.hash(data: data))
        case .sha512: Array(SHA512.hash(data: data))
        }
    }

    /// HMAC(key, data).
    func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: key)
        switch self {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        }
    }

    private var pbkdf2Function: KDF.Insecure.PBKDF2.HashFunction {
        switch self {
        case .sha1: .insecureSHA1
        case .sha256: .sha256
        case .sha512: .sha512
        }
    }

    /// The iteration counts PBKDF2 accepts (BoringSSL takes a `UInt32` and refuses 0).
    static let validIterations: ClosedRange<Int> = 1...Int(UInt32.max)

    /// SaltedPassword := Hi(Normalize(password), salt, i), i.e. PBKDF2 (RFC 5802 §2.2).
    ///
    /// Returns nil for parameters PBKDF2 refuses (empty password or salt, iterations out of range)
    /// instead of trapping, since stored credentials are not trusted to be well formed.
    func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8]? {
        guard !password.isEmpty, !salt.isEmpty, Self.validIterations.contains(iterations) else { return nil }
        // SCRAM's iteration counts (4096 by default, RFC 5802 §5.1) are below swift-crypto's checked
        // minimum, hence the unchecked entry point.
        guard let key = try? KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: pbkdf2Function,
            outputByteCount: outputByteCount, unsafeUncheckedRounds: iterations
        ) else { return nil }
        return key.withUnsafeBytes { Array($0) }
    }

    /// StoredKey and ServerKey from SaltedPassword (RFC 5802 §3).
    func keys(saltedPassword: [UInt8]) -> (storedKey: [UInt8], serverKey: [UInt8]) {
        let clientKey = hmac(key: saltedPassword, Array("Client Key".utf8))
        let serverKey = hmac(key: saltedPassword, Array("Server Key".utf8))
        return (digest(clientKey), serverKey)
    }
}

extension SCRAMCredential {
    /// Whether the mechanisms can use this credential; a malformed stored credential is treated
    /// like a missing one rather than sent to the client.
    var isUsable: Bool {
        !salt.isEmpty && SCRAMHash.validIterations.contains(iterations)
            && storedKey.count == hash.outputByteCount && serverKey.count == hash.outputByteCount
    }
}

/// Compares two byte strings in time that depends only on their lengths (which are public here:
/// digest sizes), never on where they first differ.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in a.indices {
        difference |= a[i] ^ b[i]
    }
    return difference == 0
}

/// Cryptographically secure random bytes (the standard library generator uses the OS CSPRNG).
func secureRandomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
}
