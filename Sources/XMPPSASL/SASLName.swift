/// The `saslname` encoding SCRAM uses for usernames and authzids (RFC 5802 §5.1, §7):
/// ',' is sent as `=2C` and '=' as `=3D`; no other use of '=' is allowed.
enum SASLName {
    /// Decodes a saslname; nil if it is empty, uses '=' other than in `=2C`/`=3D`, contains NUL,
    /// or is not UTF-8. (ABNF literals are case-insensitive, so `=2c` and `=3d` are accepted.)
    static func decode(_ bytes: some Collection<UInt8>) -> String? {
        let input = Array(bytes)
        guard !input.isEmpty else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let byte = input[i]
            switch byte {
            case 0x00, UInt8(ascii: ","):
                return nil
            case UInt8(ascii: "="):
                guard i + 2 < input.count else { return nil }
                let escape = (input[i + 1], input[i + 2] | 0x20)  // lower-case the hex letter
                switch escape {
                case (UInt8(ascii: "2"), UInt8(ascii: "c")): out.append(UInt8(ascii: ","))
                case (UInt8(ascii: "3"), UInt8(ascii: "d")): out.append(UInt8(ascii: "="))
                default: return nil
                }
                i += 3
            default:
                out.append(byte)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    static func encode(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: ","): out += Array("=2C".utf8)
            case UInt8(ascii: "="): out += Array("=3D".utf8)
            default: out.append(byte)
            }
        }
        return out
    }
}
