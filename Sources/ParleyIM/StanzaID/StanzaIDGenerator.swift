import ParleyKernel

/// Unpredictable ids for XEP-0359 (§3 rule 1): random (version 4) UUIDs, RFC 4122 §4.4.
public enum StanzaIDGenerator {
    @Sendable
    public static func uuid() -> String {
        var generator = BufferedRandomGenerator()
        let high = generator.next(), low = generator.next()
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { text in
            var position = 0
            for index in 0..<16 {
                var byte = UInt8(truncatingIfNeeded: (index < 8 ? high : low) >> (8 * (index % 8)))
                if index == 6 { byte = (byte & 0x0F) | 0x40 }  // version 4
                if index == 8 { byte = (byte & 0x3F) | 0x80 }  // RFC 4122 variant
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                text[position] = digits.utf8Start[Int(byte >> 4)]
                text[position + 1] = digits.utf8Start[Int(byte & 0x0F)]
                position += 2
            }
            return position
        }
    }
}
