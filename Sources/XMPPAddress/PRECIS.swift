/// Errors from PRECIS profile enforcement (RFC 8264 §7).
public enum PRECISError: Error, Hashable, Sendable {
    /// The string is empty (before or after enforcement); no profile allows that.
    case empty
    /// The string contains a code point the profile's string class does not allow.
    case disallowedCodePoint(UInt32)
}

/// PRECIS profiles for usernames and passwords (RFC 8265).
///
/// ASCII input takes a fast path that builds no Foundation objects; other input is
/// mapped, normalised with Foundation and checked against the string class derived
/// from Swift's Unicode properties (see PRECISDerivation.swift for simplifications).
public enum PRECIS {
    /// RFC 8265 §3.3 UsernameCaseMapped: width mapping, lowercase, NFC, then IdentifierClass;
    /// never empty. The Bidi Rule (RFC 8265 §3.3.3 step 5, RFC 5893) is not applied.
    public static func usernameCaseMapped(_ s: String) throws(PRECISError) -> String {
        try enforceUsernameCaseMapped(s, jidLocalpart: false)
    }

    /// RFC 8265 §4.2 OpaqueString: non-ASCII spaces to U+0020, NFC, then FreeformClass; never
    /// empty. Used for resourceparts (RFC 7622 §3.4) and SASL passwords.
    public static func opaqueString(_ s: String) throws(PRECISError) -> String {
        if s.isEmpty { throw .empty }
        switch ASCIIFastPath.freeform(s) {
        case .unchanged: return s
        case .lowered(let r): return r // not produced by `freeform`
        case .disallowed(let b): throw .disallowedCodePoint(UInt32(b))
        case .notASCII: break
        }
        // RFC 8265 §4.2.2: 1. no width mapping; 2. non-ASCII spaces (Zs) -> U+0020;
        // 3. no case mapping; 4. NFC; 5. no directionality rule.
        var mapped = String.UnicodeScalarView()
        for cp in s.unicodeScalars {
            if cp.value >= 0x80 && cp.properties.generalCategory == .spaceSeparator {
                mapped.append(" ")
            } else {
                mapped.append(cp)
            }
        }
        let out = UnicodeNormalization.nfc(String(mapped))
        if out.isEmpty { throw .empty }
        let scalars = Array(out.unicodeScalars)
        if let bad = PRECISDerivation.firstDisallowed(
            in: scalars, stringClass: .freeform, compatFree: PRECISDerivation.isCompatFree(out)) {
            throw .disallowedCodePoint(bad.value)
        }
        return out
    }

    /// UsernameCaseMapped; with `jidLocalpart` also forbids the characters RFC 7622 §3.3.1 excludes.
    static func enforceUsernameCaseMapped(_ s: String, jidLocalpart: Bool) throws(PRECISError) -> String {
        if s.isEmpty { throw .empty }
        switch ASCIIFastPath.identifierLowercased(s, jidLocalpart: jidLocalpart) {
        case .unchanged: return s
        case .lowered(let r): return r
        case .disallowed(let b): throw .disallowedCodePoint(UInt32(b))
        case .notASCII: break
        }
        // RFC 8265 §3.3.3: 1. width mapping; 2. no additional mapping; 3. toLowerCase; 4. NFC;
        // 5. Bidi Rule (skipped).
        var mapped = String.UnicodeScalarView()
        for cp in s.unicodeScalars {
            PRECISMapping.appendLowercased(PRECISMapping.widthMapped(cp), to: &mapped)
        }
        let out = UnicodeNormalization.nfc(String(mapped))
        if out.isEmpty { throw .empty }
        let scalars = Array(out.unicodeScalars)
        if let bad = PRECISDerivation.firstDisallowed(
            in: scalars, stringClass: .identifier, compatFree: PRECISDerivation.isCompatFree(out)) {
            throw .disallowedCodePoint(bad.value)
        }
        if jidLocalpart, let bad = scalars.first(where: { $0.isASCII && ASCIIFastPath.isLocalpartExcluded(UInt8($0.value)) }) {
            throw .disallowedCodePoint(bad.value)
        }
        return out
    }
}

/// Byte-level checks for all-ASCII input. No Foundation, no Unicode tables.
enum ASCIIFastPath {
    enum Outcome {
        case unchanged
        case lowered(String)
        case disallowed(UInt8)
        case notASCII
    }

    /// RFC 7622 §3.3.1: " & ' / : < > @ are not allowed in a localpart.
    @inline(__always)
    static func isLocalpartExcluded(_ b: UInt8) -> Bool {
        switch b {
        case 0x22, 0x26, 0x27, 0x2F, 0x3A, 0x3C, 0x3E, 0x40: return true
        default: return false
        }
    }

    @inline(__always)
    static func isUpper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }

    /// IdentifierClass over ASCII is exactly ASCII7 (0x21...0x7E, RFC 8264 §9.11); case-map
    /// to lowercase (RFC 8265 §3.3.3). A disallowed ASCII byte is reported at once: no NFC
    /// composition can turn space, a control or a localpart-excluded byte into an allowed one.
    static func identifierLowercased(_ s: String, jidLocalpart: Bool) -> Outcome {
        var s = s
        return s.withUTF8 { buf -> Outcome in
            var hasUpper = false
            for b in buf {
                if b >= 0x80 { return .notASCII }
                if isUpper(b) { hasUpper = true; continue }
                if b <= 0x20 || b == 0x7F || (jidLocalpart && isLocalpartExcluded(b)) {
                    return .disallowed(b)
                }
            }
            guard hasUpper else { return .unchanged }
            return .lowered(lowercased(buf))
        }
    }

    /// FreeformClass over ASCII: 0x20...0x7E (ASCII7 plus SPACE); OpaqueString maps nothing.
    static func freeform(_ s: String) -> Outcome {
        var s = s
        return s.withUTF8 { buf -> Outcome in
            for b in buf {
                if b >= 0x80 { return .notASCII }
                if b < 0x20 || b == 0x7F { return .disallowed(b) } // controls never compose
            }
            return .unchanged
        }
    }

    @inline(__always)
    static func lowercased(_ buf: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: buf.count) { out in
            for i in 0..<buf.count {
                let b = buf[i]
                out[i] = isUpper(b) ? b | 0x20 : b
            }
            return buf.count
        }
    }
}
