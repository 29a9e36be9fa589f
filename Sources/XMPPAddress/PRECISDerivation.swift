import Foundation

// PRECIS derived property values and string classes, computed from the Unicode
// properties the Swift standard library exposes (RFC 8264 §8, §9).
//
// Simplifications (documented per the brief):
// - Script membership (needed by a few CONTEXTO rules) is approximated with code
//   point ranges, because `Unicode.Scalar.Properties` has no Script property.
// - CONTEXTJ (RFC 5892 Appendix A.1/A.2): ZWNJ and ZWJ are accepted only directly
//   after a Virama (canonical combining class 9). The ZWNJ Joining_Type regular
//   expression rule is not implemented, so ZWNJ in other contexts is rejected.
// - OldHangulJamo (Hangul_Syllable_Type L, V, T) is derived from code point ranges.
// - BackwardCompatible (RFC 8264 §9.7) is empty, as in the RFC.
// - The Bidi Rule (RFC 5893), which profiles may apply, is not applied.
// - The Unicode version is whatever the Swift runtime ships; Unassigned is
//   General_Category Cn minus noncharacters (RFC 8264 §9.4).

/// PRECIS derived property value (RFC 8264 §8).
enum PRECISProperty: Equatable {
    /// PVALID in both classes.
    case pvalid
    /// ID_DIS or FREE_PVAL: valid in FreeformClass, disallowed in IdentifierClass.
    case freeformOnly
    case contextJ
    case contextO
    case disallowed
    case unassigned
}

/// PRECIS string classes (RFC 8264 §4).
enum PRECISStringClass {
    case identifier
    case freeform
}

enum PRECISDerivation {
    /// Derived property of one code point, following the ordered algorithm of RFC 8264 §8.
    /// `compatFree` true means the caller already knows HasCompat(cp) is false.
    static func property(of cp: Unicode.Scalar, compatFree: Bool) -> PRECISProperty {
        let v = cp.value
        // §9.6 Exceptions (RFC 5892 §2.6)
        switch v {
        case 0x00DF, 0x03C2, 0x06FD, 0x06FE, 0x0F0B, 0x3007:
            return .pvalid
        case 0x00B7, 0x0375, 0x05F3, 0x05F4, 0x30FB, 0x0660...0x0669, 0x06F0...0x06F9:
            return .contextO
        case 0x0640, 0x07FA, 0x302E, 0x302F, 0x3031...0x3035, 0x303B:
            return .disallowed
        default:
            break
        }
        // §9.7 BackwardCompatible: currently empty.
        let p = cp.properties
        let gc = p.generalCategory
        // §9.4 Unassigned
        if gc == .unassigned && !p.isNoncharacterCodePoint { return .unassigned }
        // §9.11 ASCII7
        if v >= 0x21 && v <= 0x7E { return .pvalid }
        // §9.8 JoinControl
        if p.isJoinControl { return .contextJ }
        // §9.9 OldHangulJamo
        if isOldHangulJamo(v) { return .disallowed }
        // §9.13 PrecisIgnorableProperties
        if p.isDefaultIgnorableCodePoint || p.isNoncharacterCodePoint { return .disallowed }
        // §9.12 Controls
        if gc == .control { return .disallowed }
        // §9.17 HasCompat
        if !compatFree && hasCompat(cp) { return .freeformOnly }
        switch gc {
        // §9.1 LetterDigits
        case .lowercaseLetter, .uppercaseLetter, .otherLetter, .decimalNumber,
             .modifierLetter, .nonspacingMark, .spacingMark:
            return .pvalid
        // §9.18 OtherLetterDigits
        case .titlecaseLetter, .letterNumber, .otherNumber, .enclosingMark:
            return .freeformOnly
        // §9.14 Spaces
        case .spaceSeparator:
            return .freeformOnly
        // §9.15 Symbols
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return .freeformOnly
        // §9.16 Punctuation
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return .freeformOnly
        default:
            // Cf, Co, Cs, Zl, Zp, ...: DISALLOWED (RFC 8264 §8 step 15)
            return .disallowed
        }
    }

    /// RFC 8264 §9.17: toNFKC(cp) != cp.
    static func hasCompat(_ cp: Unicode.Scalar) -> Bool {
        let nfkc = UnicodeNormalization.nfkc(String(Character(cp))).unicodeScalars
        return !(nfkc.count == 1 && nfkc.first == cp)
    }

    /// True if no code point of `s` has a compatibility mapping. One NFKC call over the whole
    /// string: a code point with NFKC(cp) != cp (NFKC_QC=No) cannot survive in NFKC output,
    /// so NFKC(s) == s (scalar by scalar) proves HasCompat is false for every code point.
    static func isCompatFree(_ s: String) -> Bool {
        UnicodeNormalization.nfkc(s).unicodeScalars.elementsEqual(s.unicodeScalars)
    }

    /// Returns the first code point of `scalars` not allowed in `stringClass`, or nil.
    /// `scalars` is the whole string (PRECIS) or one label (domainparts) for context rules.
    static func firstDisallowed(in scalars: [Unicode.Scalar], stringClass: PRECISStringClass,
                                compatFree: Bool) -> Unicode.Scalar? {
        for i in scalars.indices {
            let cp = scalars[i]
            switch property(of: cp, compatFree: compatFree) {
            case .pvalid:
                continue
            case .freeformOnly:
                if stringClass == .freeform { continue }
                return cp
            case .contextJ:
                if contextJSatisfied(scalars, i) { continue }
                return cp
            case .contextO:
                if contextOSatisfied(scalars, i) { continue }
                return cp
            case .disallowed, .unassigned:
                return cp
            }
        }
        return nil
    }

    // MARK: Contextual rules (RFC 5892 Appendix A)

    /// A.1 ZERO WIDTH NON-JOINER, A.2 ZERO WIDTH JOINER: only the Virama rule (see file header).
    static func contextJSatisfied(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        guard i > 0 else { return false }
        return s[i - 1].properties.canonicalCombiningClass == .virama
    }

    static func contextOSatisfied(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        switch s[i].value {
        case 0x00B7: // A.3 MIDDLE DOT: between two 'l'
            return i > 0 && i + 1 < s.count && s[i - 1] == "l" && s[i + 1] == "l"
        case 0x0375: // A.4 GREEK LOWER NUMERAL SIGN: followed by Greek
            return i + 1 < s.count && isGreek(s[i + 1].value)
        case 0x05F3, 0x05F4: // A.5, A.6 HEBREW GERESH / GERSHAYIM: preceded by Hebrew
            return i > 0 && isHebrew(s[i - 1].value)
        case 0x30FB: // A.7 KATAKANA MIDDLE DOT: some Hiragana, Katakana or Han in the string
            return s.contains { $0.value != 0x30FB && isHiraganaKatakanaHan($0.value) }
        case 0x0660...0x0669: // A.8 ARABIC-INDIC DIGITS: no Extended Arabic-Indic digits
            return !s.contains { (0x06F0...0x06F9).contains($0.value) }
        case 0x06F0...0x06F9: // A.9 EXTENDED ARABIC-INDIC DIGITS: no Arabic-Indic digits
            return !s.contains { (0x0660...0x0669).contains($0.value) }
        default:
            return false
        }
    }

    // MARK: Range approximations

    /// Hangul_Syllable_Type L, V or T (RFC 8264 §9.9).
    static func isOldHangulJamo(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x11FF, 0xA960...0xA97F, 0xD7B0...0xD7FF: return true
        default: return false
        }
    }

    static func isGreek(_ v: UInt32) -> Bool {
        switch v {
        case 0x0370...0x0373, 0x0376...0x03E1, 0x03F0...0x03FF, 0x1F00...0x1FFF,
             0x1D26...0x1D2A, 0x10140...0x1018F, 0x1D200...0x1D24F:
            return true
        default:
            return false
        }
    }

    static func isHebrew(_ v: UInt32) -> Bool {
        switch v {
        case 0x0591...0x05F4, 0xFB1D...0xFB4F: return true
        default: return false
        }
    }

    static func isHiraganaKatakanaHan(_ v: UInt32) -> Bool {
        switch v {
        case 0x3041...0x309F, // Hiragana
             0x30A0...0x30FF, 0x31F0...0x31FF, 0x32D0...0x32FE, 0x3300...0x3357,
             0xFF66...0xFF9F, 0x1B000...0x1B16F, // Katakana
             0x2E80...0x2FDF, 0x3005, 0x3007, 0x3021...0x3029, 0x3038...0x303B,
             0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3134F: // Han
            return true
        default:
            return false
        }
    }
}

/// Unicode normalisation via Foundation. Only reached off the ASCII fast path.
enum UnicodeNormalization {
    static func nfc(_ s: String) -> String { s.precomposedStringWithCanonicalMapping }
    static func nfkc(_ s: String) -> String { s.precomposedStringWithCompatibilityMapping }
}

/// Mapping rules shared by the profiles and the domainpart preparation.
enum PRECISMapping {
    /// RFC 8264 §5.2.1 width mapping rule (RFC 8265 §3.3.3 step 1): fullwidth and halfwidth code points map to
    /// their <wide>/<narrow> decomposition (UAX #11).
    static func widthMapped(_ cp: Unicode.Scalar) -> Unicode.Scalar {
        let v = cp.value
        if v < 0x3000 { return cp }
        switch v {
        case 0x3000:
            return " " // IDEOGRAPHIC SPACE <wide> 0020
        case 0xFF01...0xFF5E: // fullwidth ASCII
            return Unicode.Scalar(v - 0xFEE0)!
        case 0xFFE3:
            return "\u{AF}" // FULLWIDTH MACRON <wide> 00AF (NFKC would go further)
        case 0xFFA0:
            return "\u{3164}" // HALFWIDTH HANGUL FILLER
        case 0xFFA1...0xFFBE:
            return Unicode.Scalar(v - 0xFFA1 + 0x3131)!
        case 0xFFC2...0xFFC7:
            return Unicode.Scalar(v - 0xFFC2 + 0x314F)!
        case 0xFFCA...0xFFCF:
            return Unicode.Scalar(v - 0xFFCA + 0x3155)!
        case 0xFFD2...0xFFD7:
            return Unicode.Scalar(v - 0xFFD2 + 0x315B)!
        case 0xFFDA...0xFFDC:
            return Unicode.Scalar(v - 0xFFDA + 0x3161)!
        case 0xFF5F...0xFFEE:
            // The remaining <wide>/<narrow> decompositions are single code points without
            // further compatibility mappings, so NFKC of the code point equals them.
            let mapped = UnicodeNormalization.nfkc(String(Character(cp))).unicodeScalars
            if mapped.count == 1, let m = mapped.first { return m }
            return cp
        default:
            return cp
        }
    }

    /// Appends Unicode toLowerCase(cp) (RFC 8265 §3.3.3 step 3), context free.
    @inline(__always)
    static func appendLowercased(_ cp: Unicode.Scalar, to out: inout String.UnicodeScalarView) {
        if cp.value < 0x80 {
            out.append(cp.value &- 0x41 < 26 ? Unicode.Scalar(UInt8(cp.value) | 0x20) : cp)
        } else if cp.properties.changesWhenLowercased {
            out.append(contentsOf: cp.properties.lowercaseMapping.unicodeScalars)
        } else {
            out.append(cp)
        }
    }
}
