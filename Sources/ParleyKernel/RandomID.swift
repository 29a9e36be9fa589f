/// Random identifiers for stream ids, generated resources and request ids.
public enum RandomID {
    /// 64 URL-safe characters: each takes exactly six random bits, so there is no modulo bias.
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".utf8)

    public static func make(length: Int = 16) -> String {
        // One 64-bit draw yields ten characters.
        var generator = BufferedRandomGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(length)
        var bits: UInt64 = 0
        var available = 0
        while bytes.count < length {
            if available < 6 {
                bits = generator.next()
                available = 64
            }
            bytes.append(alphabet[Int(bits & 0x3F)])
            bits >>= 6
            available -= 6
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
