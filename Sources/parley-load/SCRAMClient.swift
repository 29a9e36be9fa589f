import Crypto
import Foundation
import _CryptoExtras

/// The SCRAM hashes the load generator speaks (RFC 5802, RFC 7677).
enum SCRAMHashKind: String, Sendable, CaseIterable {
    case sha1 = "SCRAM-SHA-1"
    case sha256 = "SCRAM-SHA-256"

    var outputByteCount: Int { self == .sha1 ? Insecure.SHA1.byteCount : SHA256.byteCount }

    func digest(_ data: [UInt8]) -> [UInt8] {
        switch self {
        case .sha1: Array(Insecure.SHA1.hash(data: data))
        case .sha256: Array(SHA256.hash(data: data))
        }
    }

    func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: key)
        switch self {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        }
    }

    func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8]? {
        guard !password.isEmpty, !salt.isEmpty, iterations > 0, iterations <= Int(UInt32.max) else { return nil }
        // SCRAM's iteration counts (4096 is common) are below swift-crypto's checked minimum.
        guard let key = try? KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: self == .sha1 ? .insecureSHA1 : .sha256,
            outputByteCount: outputByteCount, unsafeUncheckedRounds: iterations)
        else { return nil }
        return key.withUnsafeBytes { Array($0) }
    }
}

/// ClientKey and ServerKey for one (hash, password, salt, iterations): what a login needs once
/// PBKDF2 has run.
struct SCRAMKeys: Sendable {
    var clientKey: [UInt8]
    var storedKey: [UInt8]
    var serverKey: [UInt8]
}

/// Remembers the keys derived per (hash, password, salt, iterations), in memory and optionally in a
/// file, so thousands of logins pay PBKDF2 once per account and not at every run. Only used on the
/// event loop thread.
final class SCRAMKeyCache {
    private var entries: [String: SCRAMKeys] = [:]
    private(set) var misses = 0
    private(set) var hits = 0
    private var dirty = false
    let path: String?

    init(path: String?) {
        self.path = path
        guard let path, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            // key \t clientKey hex \t serverKey hex
            let fields = line.split(separator: "\t")
            guard fields.count == 3, let hashName = fields[0].split(separator: " ").first,
                  let hash = SCRAMHashKind(rawValue: String(hashName)),
                  let clientKey = Self.unhex(fields[1]), let serverKey = Self.unhex(fields[2]) else { continue }
            entries[String(fields[0])] = SCRAMKeys(clientKey: clientKey, storedKey: hash.digest(clientKey), serverKey: serverKey)
        }
    }

    private static func key(_ hash: SCRAMHashKind, _ password: String, _ salt: [UInt8], _ iterations: Int) -> String {
        "\(hash.rawValue) \(iterations) \(Data(salt).base64EncodedString()) \(Data(password.utf8).base64EncodedString())"
    }

    func keys(_ hash: SCRAMHashKind, password: String, salt: [UInt8], iterations: Int) -> SCRAMKeys? {
        let key = Self.key(hash, password, salt, iterations)
        if let found = entries[key] {
            hits += 1
            return found
        }
        guard let salted = hash.saltedPassword(Array(password.utf8), salt: salt, iterations: iterations) else { return nil }
        misses += 1
        let clientKey = hash.hmac(key: salted, Array("Client Key".utf8))
        let keys = SCRAMKeys(clientKey: clientKey, storedKey: hash.digest(clientKey),
                             serverKey: hash.hmac(key: salted, Array("Server Key".utf8)))
        entries[key] = keys
        dirty = true
        return keys
    }

    func save() {
        guard let path, dirty else { return }
        var text = ""
        text.reserveCapacity(entries.count * 160)
        for (key, value) in entries {
            text += key + "\t" + Self.hex(value.clientKey) + "\t" + Self.hex(value.serverKey) + "\n"
        }
        let temporary = path + ".tmp"
        if (try? text.write(toFile: temporary, atomically: false, encoding: .utf8)) != nil {
            _ = rename(temporary, path)
        }
        dirty = false
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func unhex(_ text: Substring) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// One SCRAM exchange, client side (RFC 5802 §3, §5), without channel binding (`n,,`).
struct SCRAMExchange {
    enum Failure: Error, CustomStringConvertible {
        case malformedServerFirst(String)
        case nonceMismatch
        case badSalt
        case serverSignatureMismatch

        var description: String {
            switch self {
            case .malformedServerFirst(let text): "malformed server-first-message: \(text)"
            case .nonceMismatch: "server nonce does not extend the client nonce"
            case .badSalt: "unusable salt or iteration count"
            case .serverSignatureMismatch: "server signature does not verify"
            }
        }
    }

    let hash: SCRAMHashKind
    let username: String
    let password: String
    let clientNonce: String
    private(set) var authMessage: [UInt8] = []
    private(set) var keys: SCRAMKeys?

    init(hash: SCRAMHashKind, username: String, password: String) {
        self.hash = hash
        self.username = username
        self.password = password
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        self.clientNonce = String(decoding: (0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }, as: UTF8.self)
    }

    private var escapedUsername: String {
        username.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    var clientFirstBare: String { "n=\(escapedUsername),r=\(clientNonce)" }

    /// The base64 payload of `<auth/>`.
    var clientFirstBase64: String { Data(("n,," + clientFirstBare).utf8).base64EncodedString() }

    /// Answers the server-first-message (already base64-decoded) with the client-final-message.
    mutating func clientFinal(serverFirst: String, cache: SCRAMKeyCache) throws(Failure) -> String {
        var nonce: Substring?
        var salt: [UInt8]?
        var iterations: Int?
        for attribute in serverFirst.split(separator: ",") {
            guard attribute.count >= 2, attribute.dropFirst().first == "=" else { continue }
            let value = attribute.dropFirst(2)
            switch attribute.first {
            case "r": nonce = value
            case "s": salt = Data(base64Encoded: String(value)).map { Array($0) }
            case "i": iterations = Int(value)
            default: break
            }
        }
        guard let nonce, let salt, let iterations else { throw .malformedServerFirst(serverFirst) }
        guard nonce.hasPrefix(clientNonce) else { throw .nonceMismatch }
        guard let keys = cache.keys(hash, password: password, salt: salt, iterations: iterations) else { throw .badSalt }
        self.keys = keys
        let withoutProof = "c=biws,r=\(nonce)"
        authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let signature = hash.hmac(key: keys.storedKey, authMessage)
        var proof = keys.clientKey
        for i in proof.indices { proof[i] ^= signature[i] }
        return "\(withoutProof),p=\(Data(proof).base64EncodedString())"
    }

    /// Checks `v=` in the server-final-message (RFC 5802 §3: the client authenticates the server).
    func verify(serverFinal: String) throws(Failure) {
        guard let keys else { throw .serverSignatureMismatch }
        let expected = Data(hash.hmac(key: keys.serverKey, authMessage)).base64EncodedString()
        for attribute in serverFinal.split(separator: ",") where attribute.hasPrefix("v=") {
            if attribute.dropFirst(2) == expected { return }
        }
        throw .serverSignatureMismatch
    }
}
