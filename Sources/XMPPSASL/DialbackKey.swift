import Crypto

/// Server dialback keys (XEP-0185 §3): HMAC-SHA256 keyed with the lower-case hex of SHA-256 of a
/// secret only this server knows, over "Receiving Server, Originating Server, Stream ID", as
/// lower-case hex (the XEP-0185 §4 and XEP-0220 §2.1.1 examples use exactly this form).
/// The same secret must be used by every node that may be asked to verify a key.
public struct DialbackKey: Sendable {
    private let key: SymmetricKey

    public init(secret: [UInt8]) {
        key = SymmetricKey(data: Array(Self.hex(SHA256.hash(data: secret)).utf8))
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public func generate(receiving: String, originating: String, streamID: String) -> String {
        let text = receiving + " " + originating + " " + streamID
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
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
