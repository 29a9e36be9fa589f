// Domainpart preparation and enforcement (RFC 7622 §3.2).
//
// Accepted forms: an IP literal "[IPv6]" (RFC 3986 IP-literal without IPvFuture), a dotted
// IPv4 address, or a host name whose labels are checked in an IDNA2008-ish way:
// - ASCII labels: [a-z0-9-] (after lowercasing), 1...63 bytes, no leading or trailing hyphen
//   (RFC 1123 LDH; no underscore). A-labels ("xn--…") are accepted as they are and are not
//   converted to U-labels, so the A-label and U-label spellings of a name compare unequal.
// - Labels with non-ASCII code points: PRECIS IdentifierClass letters/digits (with the
//   contextual rules of PRECISDerivation.swift), ASCII [a-z0-9-], no leading/trailing hyphen,
//   no "--" in positions 3-4 (RFC 5891 §4.2.3.1), no leading combining mark (§4.2.3.2).
//   The 63-octet limit applies to the A-label, which is not computed: 4 + scalar count is
//   used as a lower bound of its length. The Bidi Rule (RFC 5893) is not applied.
// - If the last label is all digits, the name must be a dotted-quad IPv4 address (no
//   top-level domain is numeric; RFC 3696 §2), octets 0...255 without leading zeros.
// Mapping for non-ASCII input: width mapping, label separators U+3002 U+FF0E U+FF61 to '.',
// lowercase, NFC (RFC 7622 §3.2.2 / RFC 5895 style). IPv6 literals are rewritten in the
// RFC 5952 canonical text form so equal addresses compare equal.

enum Domainpart {
    /// RFC 7622 §3.2: at most 1023 octets.
    static let maxBytes = 1023
    /// Mapping and NFC shrink input by at most 3x, so longer raw input can never fit.
    static let maxRawBytes = 4 * maxBytes

    static func normalize(_ s: String) throws(JIDError) -> String {
        if s.isEmpty { throw .emptyDomainpart }
        if s.utf8.count > maxRawBytes { throw .domainpartTooLong }
        switch asciiNormalize(s) {
        case .success(let r?): return r
        case .success(nil): return try unicodeNormalize(s)
        case .failure(let e): throw e
        }
    }

    // MARK: ASCII fast path

    /// nil when the input is not all ASCII.
    static func asciiNormalize(_ original: String) -> Result<String?, JIDError> {
        var copy = original
        return copy.withUTF8 { buf -> Result<String?, JIDError> in
            var hasUpper = false
            for b in buf {
                if b >= 0x80 { return .success(nil) }
                if ASCIIFastPath.isUpper(b) { hasUpper = true }
            }
            var n = buf.count
            if n > 0 && buf[n - 1] == UInt8(ascii: ".") { n -= 1 } // RFC 7622 §3.2: strip one trailing dot
            if n == 0 { return .failure(.emptyDomainpart) }
            if n > maxBytes { return .failure(.domainpartTooLong) }
            let body = UnsafeBufferPointer(rebasing: buf[0..<n])
            switch checkASCIIBody(body, hasUpper: hasUpper) {
            case .invalid: return .failure(.invalidDomainpart)
            case .canonical(let r): return .success(r)
            case .same: return .success(n == buf.count ? original : String(decoding: body, as: UTF8.self))
            }
        }
    }

    enum BodyCheck {
        case same
        case canonical(String)
        case invalid
    }

    /// Checks a non-empty, all-ASCII domainpart whose trailing dot is already stripped.
    static func checkASCIIBody(_ body: UnsafeBufferPointer<UInt8>, hasUpper: Bool) -> BodyCheck {
        if body[0] == UInt8(ascii: "[") {
            guard let literal = IPLiteral.canonicalIPv6Literal(body) else { return .invalid }
            return .canonical(literal)
        }
        guard isValidASCIIHostname(body) else { return .invalid }
        return hasUpper ? .canonical(ASCIIFastPath.lowercased(body)) : .same
    }

    @inline(__always)
    static func isASCIIDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always)
    static func isASCIIAlpha(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }

    /// LDH labels separated by '.', each 1...63 bytes, no leading/trailing hyphen (either case).
    static func isValidASCIIHostname(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = body.count
        var labelStart = 0
        var labelAllDigits = true
        var lastAllDigits = false
        var i = 0
        while i <= n {
            if i == n || body[i] == UInt8(ascii: ".") {
                let len = i - labelStart
                if len == 0 || len > 63 { return false }
                if body[i - 1] == UInt8(ascii: "-") { return false }
                lastAllDigits = labelAllDigits
                labelStart = i + 1
                labelAllDigits = true
            } else {
                let b = body[i]
                if isASCIIDigit(b) {
                    // keeps labelAllDigits
                } else if isASCIIAlpha(b) {
                    labelAllDigits = false
                } else if b == UInt8(ascii: "-") {
                    if i == labelStart { return false }
                    labelAllDigits = false
                } else {
                    return false
                }
            }
            i += 1
        }
        if lastAllDigits { return IPLiteral.isDottedQuad(body[...]) }
        return true
    }

    // MARK: Unicode path

    static func unicodeNormalize(_ s: String) throws(JIDError) -> String {
        var mapped = String.UnicodeScalarView()
        for cp in s.unicodeScalars {
            let w = PRECISMapping.widthMapped(cp)
            switch w.value {
            case 0x3002, 0xFF0E, 0xFF61: // label separators (RFC 3490 §3.1, UTS #46)
                mapped.append(".")
            default:
                PRECISMapping.appendLowercased(w, to: &mapped)
            }
        }
        var out = UnicodeNormalization.nfc(String(mapped))
        if out.unicodeScalars.last == "." { out.unicodeScalars.removeLast() } // RFC 7622 §3.2
        if out.isEmpty { throw .emptyDomainpart }
        if out.utf8.count > maxBytes { throw .domainpartTooLong }

        if out.utf8.allSatisfy({ $0 < 0x80 }) {
            // e.g. fullwidth ASCII input: now plain ASCII (already lowercase).
            var copy = out
            let check = copy.withUTF8 { checkASCIIBody($0, hasUpper: false) }
            switch check {
            case .invalid: throw .invalidDomainpart
            case .canonical(let r): return r
            case .same: return out
            }
        }

        let scalars = Array(out.unicodeScalars)
        let compatFree = PRECISDerivation.isCompatFree(out)
        let labels = scalars.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard isValidLabel(Array(label), compatFree: compatFree) else { throw .invalidDomainpart }
        }
        if let last = labels.last, last.allSatisfy({ isASCIIDigit(UInt8(truncatingIfNeeded: $0.value)) && $0.isASCII }) {
            throw .invalidDomainpart // numeric top-level label, and not an IPv4 address
        }
        return out
    }

    static func isValidLabel(_ label: [Unicode.Scalar], compatFree: Bool) -> Bool {
        guard let first = label.first, let last = label.last else { return false }
        if label.allSatisfy(\.isASCII) {
            let bytes = label.map { UInt8($0.value) }
            return bytes.withUnsafeBufferPointer { buf in
                buf.count <= 63 && isValidASCIIHostnameLabel(buf)
            }
        }
        if 4 + label.count > 63 { return false } // lower bound of the A-label length
        if first == "-" || last == "-" { return false }
        if label.count >= 4 && label[2] == "-" && label[3] == "-" { return false } // RFC 5891 §4.2.3.1
        switch first.properties.generalCategory { // RFC 5891 §4.2.3.2
        case .nonspacingMark, .spacingMark, .enclosingMark: return false
        default: break
        }
        for cp in label where cp.isASCII {
            let b = UInt8(cp.value)
            if !(isASCIIDigit(b) || (b &- 0x61 < 26) || b == UInt8(ascii: "-")) { return false }
        }
        // Hyphen is PVALID (ASCII7); the rest must be IdentifierClass letters/digits.
        return PRECISDerivation.firstDisallowed(in: label, stringClass: .identifier, compatFree: compatFree) == nil
    }

    /// One ASCII label: LDH, no leading/trailing hyphen, lowercase letters only.
    static func isValidASCIIHostnameLabel(_ buf: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = buf.first, let last = buf.last else { return false }
        if first == UInt8(ascii: "-") || last == UInt8(ascii: "-") { return false }
        return buf.allSatisfy { isASCIIDigit($0) || $0 &- 0x61 < 26 || $0 == UInt8(ascii: "-") }
    }
}

/// IP address literals in domainparts (RFC 7622 §3.2, RFC 3986 §3.2.2).
enum IPLiteral {
    /// "[v6]" with the address in RFC 5952 canonical form, or nil.
    static func canonicalIPv6Literal(_ body: UnsafeBufferPointer<UInt8>) -> String? {
        guard body.count >= 4, body[0] == UInt8(ascii: "["), body[body.count - 1] == UInt8(ascii: "]"),
              let groups = parseIPv6(body[1..<(body.count - 1)]) else { return nil }
        return "[" + formatIPv6(groups) + "]"
    }

    /// RFC 4291 §2.2 text forms, including a trailing dotted IPv4 part.
    static func parseIPv6(_ s: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt16]? {
        let colon = UInt8(ascii: ":")
        var doubleColon: Int? = nil
        var i = s.startIndex
        while i + 1 < s.endIndex {
            if s[i] == colon && s[i + 1] == colon {
                if doubleColon != nil { return nil }
                doubleColon = i
                i += 2
            } else {
                i += 1
            }
        }
        if let dc = doubleColon {
            guard let head = parseGroups(s[s.startIndex..<dc], allowIPv4: false),
                  let tail = parseGroups(s[(dc + 2)..<s.endIndex], allowIPv4: true),
                  head.count + tail.count <= 7 else { return nil }
            return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard let all = parseGroups(s, allowIPv4: true), all.count == 8 else { return nil }
        return all
    }

    private static func parseGroups(_ s: Slice<UnsafeBufferPointer<UInt8>>, allowIPv4: Bool) -> [UInt16]? {
        if s.isEmpty { return [] }
        let pieces = s.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var out: [UInt16] = []
        for (k, piece) in pieces.enumerated() {
            if allowIPv4 && k == pieces.count - 1 && piece.contains(UInt8(ascii: ".")) {
                guard let v4 = parseDottedQuad(piece) else { return nil }
                out.append(UInt16(v4 >> 16))
                out.append(UInt16(v4 & 0xFFFF))
                continue
            }
            guard (1...4).contains(piece.count) else { return nil }
            var v: UInt16 = 0
            for b in piece {
                let d: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
                default: return nil
                }
                v = v << 4 | UInt16(d)
            }
            out.append(v)
        }
        return out
    }

    static func isDottedQuad<C: Collection<UInt8>>(_ s: C) -> Bool { parseDottedQuad(s) != nil }

    /// Four decimal octets 0...255, no leading zeros.
    static func parseDottedQuad<C: Collection<UInt8>>(_ s: C) -> UInt32? {
        let parts = s.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: UInt32 = 0
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy(Domainpart.isASCIIDigit) else { return nil }
            if p.count > 1 && p.first == UInt8(ascii: "0") { return nil }
            let v = p.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard v <= 255 else { return nil }
            result = result << 8 | v
        }
        return result
    }

    /// RFC 5952 §4: lowercase hex, no leading zeros, longest run (>= 2) of zero groups as "::",
    /// first run on ties; §5: IPv4-mapped addresses in mixed notation.
    static func formatIPv6(_ g: [UInt16]) -> String {
        if g[0..<5].allSatisfy({ $0 == 0 }) && g[5] == 0xFFFF {
            return "::ffff:\(g[6] >> 8).\(g[6] & 0xFF).\(g[7] >> 8).\(g[7] & 0xFF)"
        }
        var bestStart = -1, bestLen = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && g[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLen { bestStart = runStart; bestLen = i - runStart }
                runStart = -1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLen
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(g[i], radix: 16)
            i += 1
        }
        return out
    }
}
