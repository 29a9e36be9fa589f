import Foundation
import Testing
@testable import XMPPAddress

@Suite("PRECIS (RFC 8264, RFC 8265)")
struct PRECISTests {
    @Test("UsernameCaseMapped valid", arguments: [
        ("juliet", "juliet"),
        ("Juliet", "juliet"),
        ("JULIET", "juliet"),
        ("fußball", "fußball"),
        ("π", "π"),
        ("Σ", "σ"),
        ("ς", "ς"),
        ("\u{FF2A}\u{FF35}", "ju"),            // width mapping then lowercase
        ("e\u{301}", "\u{E9}"),                // NFC
        ("user@host", "user@host"),            // '@' is fine outside JIDs
        ("\u{915}\u{94D}\u{200D}", "\u{915}\u{94D}\u{200D}"), // ZWJ after virama (CONTEXTJ)
        ("l\u{B7}l", "l\u{B7}l"),              // MIDDLE DOT between 'l's (CONTEXTO)
        ("\u{5D0}\u{5F3}", "\u{5D0}\u{5F3}"),  // GERESH after Hebrew
        ("\u{30AB}\u{30FB}\u{30AB}", "\u{30AB}\u{30FB}\u{30AB}"), // KATAKANA MIDDLE DOT
        ("\u{661}\u{662}", "\u{661}\u{662}"),  // Arabic-Indic digits alone
        ("\u{3007}", "\u{3007}"),              // exception: PVALID
    ])
    func usernameValid(_ example: (String, String)) throws {
        #expect(try PRECIS.usernameCaseMapped(example.0) == example.1)
    }

    @Test("UsernameCaseMapped invalid", arguments: [
        ("foo bar", 0x20),
        ("a\u{9}b", 0x09),
        ("henry\u{2163}", 0x2173),  // lowercased to U+2173, which has a compat mapping
        ("\u{265A}", 0x265A),       // symbol
        ("a!\u{A0}b", 0xA0),        // NO-BREAK SPACE: HasCompat
        ("\u{FB01}", 0xFB01),       // ligature: HasCompat
        ("a\u{200D}", 0x200D),      // ZWJ without virama
        ("a\u{200C}b", 0x200C),     // ZWNJ: joining-type rule not implemented
        ("a\u{B7}b", 0xB7),         // MIDDLE DOT not between 'l's
        ("a\u{5F3}", 0x5F3),        // GERESH not after Hebrew
        ("a\u{30FB}", 0x30FB),      // KATAKANA MIDDLE DOT without Japanese
        ("\u{661}\u{6F1}", 0x661),  // mixed Arabic-Indic digit forms
        ("\u{640}", 0x640),         // exception: DISALLOWED
        ("\u{1100}", 0x1100),       // old Hangul jamo
        ("\u{AD}", 0xAD),           // default ignorable
        ("\u{E000}", 0xE000),       // private use
        ("\u{10FFFF}", 0x10FFFF),   // noncharacter
        ("\u{2028}", 0x2028),       // LINE SEPARATOR (Zl)
        ("\u{1C5}", 0x1C6),         // titlecase Dž lowercases to U+01C6, which has a compat mapping
    ])
    func usernameInvalid(_ example: (String, UInt32)) {
        #expect(throws: PRECISError.disallowedCodePoint(example.1)) { try PRECIS.usernameCaseMapped(example.0) }
    }

    @Test func usernameEmpty() {
        #expect(throws: PRECISError.empty) { try PRECIS.usernameCaseMapped("") }
        #expect(throws: PRECISError.empty) { try PRECIS.opaqueString("") }
    }

    @Test("OpaqueString valid", arguments: [
        ("correct horse battery staple", "correct horse battery staple"),
        ("Correct Horse Battery Staple", "Correct Horse Battery Staple"), // no case mapping
        ("πßå", "πßå"),
        ("Jack of \u{2666}s", "Jack of \u{2666}s"),   // symbol
        ("foo\u{1680}bar", "foo bar"),                // OGHAM SPACE MARK -> U+0020
        ("foo\u{A0}bar", "foo bar"),                  // NO-BREAK SPACE -> U+0020
        ("\u{3000}", " "),                            // IDEOGRAPHIC SPACE -> U+0020
        ("\u{FF21}", "\u{FF21}"),                     // no width mapping
        ("henry\u{2163}", "henry\u{2163}"),           // compat characters allowed
        ("\u{1C5}", "\u{1C5}"),                       // titlecase allowed
        ("cafe\u{301}", "caf\u{E9}"),                 // NFC
        ("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    ])
    func opaqueValid(_ example: (String, String)) throws {
        let out = try PRECIS.opaqueString(example.0)
        #expect(out.unicodeScalars.elementsEqual(example.1.unicodeScalars))
    }

    @Test("OpaqueString invalid", arguments: [
        ("foo\u{7}bar", 0x07),
        ("foo\u{7F}", 0x7F),
        ("a\u{0}", 0x00),
        ("\u{AD}x", 0xAD),
        ("x\u{E000}", 0xE000),
        ("x\u{FFFF}", 0xFFFF),
        ("x\u{200B}", 0x200B), // ZERO WIDTH SPACE: default ignorable (Cf)
        ("\u{200C}", 0x200C),
    ])
    func opaqueInvalid(_ example: (String, UInt32)) {
        #expect(throws: PRECISError.disallowedCodePoint(example.1)) { try PRECIS.opaqueString(example.0) }
    }

    @Test func derivedProperties() {
        func prop(_ v: UInt32) -> PRECISProperty {
            PRECISDerivation.property(of: Unicode.Scalar(v)!, compatFree: false)
        }
        #expect(prop(0x61) == .pvalid)
        #expect(prop(0x20) == .freeformOnly)
        #expect(prop(0x0A) == .disallowed)
        #expect(prop(0xDF) == .pvalid)
        #expect(prop(0xB7) == .contextO)
        #expect(prop(0x200D) == .contextJ)
        #expect(prop(0x2163) == .freeformOnly)
        #expect(prop(0x265A) == .freeformOnly)
        #expect(prop(0x2E) == .pvalid)
        #expect(prop(0x3002) == .freeformOnly)
        #expect(prop(0x0378) == .unassigned)
        #expect(prop(0xFDD0) == .disallowed)
        #expect(prop(0x0301) == .pvalid)
        #expect(prop(0x01C5) == .freeformOnly)
    }

    /// The whole-string NFKC shortcut (`isCompatFree`) must never hide a code point that
    /// has a compatibility mapping, also in context.
    @Test func compatShortcutAgreesWithPerCodePointCheck() {
        var checked = 0
        for v in Array(UInt32(0xA0)...UInt32(0x3400)) + Array(UInt32(0xF900)...UInt32(0xFFEF)) {
            guard let cp = Unicode.Scalar(v), cp.properties.generalCategory != .unassigned,
                  PRECISDerivation.hasCompat(cp) else { continue }
            for context in ["a\(cp)b", "\(cp)\u{301}", "\u{5D0}\(cp)"] {
                #expect(!PRECISDerivation.isCompatFree(context), "U+\(String(v, radix: 16))")
            }
            checked += 1
        }
        #expect(checked > 1000)
    }

    /// Width mapping gives the <wide>/<narrow> decomposition, which has the same NFKC form.
    @Test func widthMappingMatchesNFKC() {
        for v in [UInt32(0x3000)] + Array(UInt32(0xFF01)...UInt32(0xFFEE)) {
            guard let cp = Unicode.Scalar(v), cp.properties.generalCategory != .unassigned else { continue }
            let mapped = PRECISMapping.widthMapped(cp)
            #expect(mapped != cp, "U+\(String(v, radix: 16)) unmapped")
            let a = String(Character(cp)).precomposedStringWithCompatibilityMapping
            let b = String(Character(mapped)).precomposedStringWithCompatibilityMapping
            #expect(a.unicodeScalars.elementsEqual(b.unicodeScalars), "U+\(String(v, radix: 16))")
        }
    }

    @Test func asciiFastPathMatchesUnicodePath() throws {
        // Appending a harmless non-ASCII letter forces the Unicode path; the ASCII prefix
        // must be treated the same way on both paths.
        for v in UInt8(0x00)...UInt8(0x7F) {
            let c = String(UnicodeScalar(v))
            let fastUser = try? PRECIS.usernameCaseMapped("a" + c)
            let slowUser = try? PRECIS.usernameCaseMapped("a" + c + "é")
            #expect((fastUser == nil) == (slowUser == nil), "byte \(v)")
            if let fastUser, let slowUser { #expect(fastUser + "é" == slowUser) }
            let fastOpaque = try? PRECIS.opaqueString("a" + c)
            let slowOpaque = try? PRECIS.opaqueString("a" + c + "é")
            #expect((fastOpaque == nil) == (slowOpaque == nil), "byte \(v)")
            let fastLocal = try? JID.normalizeLocalpart("a" + c)
            let slowLocal = try? JID.normalizeLocalpart("a" + c + "é")
            #expect((fastLocal == nil) == (slowLocal == nil), "byte \(v)")
            let fastDomain = try? Domainpart.normalize("a" + c + "b.example")
            let slowDomain = try? Domainpart.normalize("a" + c + "bé.example")
            #expect((fastDomain == nil) == (slowDomain == nil), "byte \(v)")
        }
    }
}
