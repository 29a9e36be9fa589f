import Crypto

/// Server dialback keys (XEP-0185 §3): HMAC-SHA256 keyed with SHA-256 of a secret only this server
/// knows, over "Receiving Server, Originating Server, Stream ID", as lower-case hex.
/// The same secret must be used by every node that may be asked to verify a key.
public struct DialbackKey: Sendable {
    private let key: SymmetricKey

    public init(secret: [UInt8]) {
        key = SymmetricKey(data: SHA256.hash(data: secret))
    }

    public func generate(receiving: String, originating: String, streamID: String) -> String {
        let text = receiving + " " + originating + " " + streamID
        let code = HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)
        return code.map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
        }.joined()
    }

    /// Checks a key in constant time with respect to its content.
    public func verify(_ candidate: String, receiving: String, originating: String, streamID: String) -> Bool {
        let expected = Array(generate(receiving: receiving, originating: originating, streamID: streamID).utf8)
        let given = Array(candidate.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ given[index] }
        return difference == 0
    }
}
