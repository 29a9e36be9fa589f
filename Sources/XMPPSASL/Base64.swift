/// Base64 (RFC 4648 §4, with padding) for the SCRAM attributes that carry it: s=, c=, p=, v=
/// (RFC 5802 §7), and for SASL payloads in `<auth/>`, `<challenge/>`, `<response/>` and `<success/>`
/// (RFC 6120 §6.4.2). Kept here so the protocol core needs no Foundation.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, symbol) in alphabet.enumerated() {
            table[Int(symbol)] = UInt8(value)
        }
        return table
    }()

    /// Encodes with padding.
    public static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var i = 0
        while i < input.count {
            let b0 = input[i]
            let b1: UInt8 = i + 1 < input.count ? input[i + 1] : 0
            let b2: UInt8 = i + 2 < input.count ? input[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < input.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < input.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return out
    }

    /// Encodes with padding, as a `String`.
    public static func encodeString(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: encode(bytes), as: UTF8.self)
    }

    /// Decodes padded base64; nil on any character outside the alphabet, a length that is not a
    /// multiple of 4, or misplaced padding. Whitespace is not skipped; non-zero bits in the last
    /// character before padding are ignored.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        let input = Array(text)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var i = 0
        while i < input.count {
            let isLast = i + 4 == input.count
            let pad = input[i + 3] == UInt8(ascii: "=") ? (input[i + 2] == UInt8(ascii: "=") ? 2 : 1) : 0
            guard pad == 0 || isLast else { return nil }
            var quantum: UInt32 = 0
            for j in 0..<(4 - pad) {
                let value = decodeTable[Int(input[i + j])]
                guard value != 0xFF else { return nil }
                quantum |= UInt32(value) << (18 - 6 * UInt32(j))
            }
            out.append(UInt8(truncatingIfNeeded: quantum >> 16))
            if pad < 2 { out.append(UInt8(truncatingIfNeeded: quantum >> 8)) }
            if pad < 1 { out.append(UInt8(truncatingIfNeeded: quantum)) }
            i += 4
        }
        return out
    }
}
