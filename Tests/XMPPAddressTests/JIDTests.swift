import Testing
@testable import XMPPAddress

@Suite("JID parsing (RFC 7622)")
struct JIDTests {
    // RFC 7622 §3.5.1 valid examples, with the expected (local, domain, resource).
    static let valid: [(String, String?, String, String?)] = [
        ("juliet@example.com", "juliet", "example.com", nil),
        ("juliet@example.com/foo", "juliet", "example.com", "foo"),
        ("juliet@example.com/foo bar", "juliet", "example.com", "foo bar"),
        ("juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"),
        ("foo\\20bar@example.com", "foo\\20bar", "example.com", nil),
        ("fussball@example.com", "fussball", "example.com", nil),
        ("fußball@example.com", "fußball", "example.com", nil),
        ("π@example.com", "π", "example.com", nil),
        ("Σ@example.com/foo", "σ", "example.com", "foo"),
        ("σ@example.com/foo", "σ", "example.com", "foo"),
        ("ς@example.com/foo", "ς", "example.com", "foo"),
        ("king@example.com/♚", "king", "example.com", "♚"),
        ("example.com", nil, "example.com", nil),
        ("example.com/foobar", nil, "example.com", "foobar"),
        ("a.example.com/b@example.net", nil, "a.example.com", "b@example.net"),
        // IP literals
        ("juliet@[::1]/res", "juliet", "[::1]", "res"),
        ("[2001:DB8::1]", nil, "[2001:db8::1]", nil),
        ("192.0.2.1", nil, "192.0.2.1", nil),
        ("juliet@192.0.2.1/x", "juliet", "192.0.2.1", "x"),
        // misc
        ("a/b/c", nil, "a", "b/c"),
    ]

    @Test("RFC 7622 §3.5.1 valid JIDs", arguments: valid)
    func validJIDs(_ example: (String, String?, String, String?)) throws {
        let jid = try JID(example.0)
        #expect(jid.localpart == example.1)
        #expect(jid.domainpart == example.2)
        #expect(jid.resourcepart == example.3)
        // The canonical form parses to the same JID.
        #expect(try JID(jid.description) == jid)
    }

    // RFC 7622 §3.5.2 invalid examples.
    static let invalid: [(String, JIDError)] = [
        ("\"juliet\"@example.com", .invalidLocalpart),
        ("foo bar@example.com", .invalidLocalpart),
        ("juliet@example.com/", .emptyResourcepart),
        ("@example.com/", .emptyLocalpart),
        ("henry\u{2163}@example.com", .invalidLocalpart), // ROMAN NUMERAL FOUR: HasCompat
        ("♚@example.com", .invalidLocalpart), // Symbol: ID_DIS
        ("juliet@", .emptyDomainpart),
        ("/foobar", .emptyDomainpart),
        ("", .empty),
    ]

    @Test("RFC 7622 §3.5.2 invalid JIDs", arguments: invalid)
    func invalidJIDs(_ example: (String, JIDError)) {
        #expect(throws: example.1) { try JID(example.0) }
    }

    @Test("more invalid JIDs", arguments: [
        "a@b@example.com",          // second '@' lands in the domainpart
        "jul:iet@example.com",
        "jul<iet@example.com",
        "jul>iet@example.com",
        "jul&iet@example.com",
        "jul'iet@example.com",
        "juliet@exa mple.com",
        "juliet@exam_ple.com",
        "juliet@-example.com",
        "juliet@example-.com",
        "juliet@example..com",
        "juliet@.example.com",
        "juliet@example.com..",
        "juliet@.",
        "juliet@exa\u{0}mple.com",
        "juliet@example.com/a\u{7}b",
        "jul\u{1}iet@example.com",
        "juliet@[::1",
        "juliet@[1:2:3]",
        "juliet@[1::2::3]",
        "juliet@[12345::1]",
        "juliet@[::g]",
        "juliet@256.0.0.1",
        "juliet@01.2.3.4",
        "juliet@1.2.3",
        "juliet@123",
        "juliet@ex\u{2163}ample.com",  // compat char in a domain label
        "juliet@\u{301}example.com",   // leading combining mark
        "juliet@ab--ü.com",            // '--' in positions 3-4 of a U-label
        "juliet@ü_.com",
        "juliet@example.com/\u{FFFE}", // noncharacter
        "ju\u{AD}liet@example.com",    // default ignorable (SOFT HYPHEN)
        "juliet\u{FF20}example.com",   // fullwidth '@' is not a separator, and not allowed in a domain
        "jul\u{FF1C}iet@example.com",  // fullwidth '<' width-maps to a forbidden '<'
    ])
    func moreInvalid(_ s: String) {
        #expect(throws: JIDError.self) { try JID(s) }
    }

    @Test func splitUsesFirstSlashThenFirstAt() throws {
        let jid = try JID("a@b/c@d/e")
        #expect(jid.localpart == "a")
        #expect(jid.domainpart == "b")
        #expect(jid.resourcepart == "c@d/e")
        #expect(throws: JIDError.invalidDomainpart) { try JID("a@b@c") }
    }

    @Test func resourceStartingWithCombiningMarkIsSplitOnScalars() throws {
        // "/" + U+0301 is a single Character; splitting must not round to Character boundaries.
        let jid = try JID("juliet@example.com/\u{301}x")
        #expect(jid.resourcepart?.unicodeScalars.first == "\u{301}")
        #expect(jid.domainpart == "example.com")
    }

    @Test func caseFolding() throws {
        let jid = try JID("JuLiEt@ExAmPlE.CoM/BaLcOnY")
        #expect(jid.localpart == "juliet")
        #expect(jid.domainpart == "example.com")
        #expect(jid.resourcepart == "BaLcOnY") // resource case preserved (OpaqueString)
        #expect(jid.description == "juliet@example.com/BaLcOnY")
        #expect(try JID("ÉLODIE@ÉXAMPLE.COM").description == "élodie@éxample.com")
        #expect(try JID("ΣΑΣ@example.com").localpart == "σασ") // toLowerCase, no final-sigma context
    }

    @Test func normalisedFormsAreEqualAndHashEqual() throws {
        let a = try JID("Juliet@Example.com./Balcony")
        let b = try JID("juliet@example.com/Balcony")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(Set([a, b]).count == 1)
        #expect(try JID("juliet@example.com/balcony") != b)
        // NFC: decomposed and precomposed forms are the same address.
        let decomposed = try JID("e\u{301}lodie@example.com/caf\u{65}\u{301}")
        let precomposed = try JID("\u{E9}lodie@example.com/caf\u{E9}")
        #expect(decomposed == precomposed)
        #expect(decomposed.localpart!.unicodeScalars.count == 6)
        // Fullwidth letters width-map in the localpart and domainpart, not in the resourcepart.
        let wide = try JID("\u{FF2A}uliet@\u{FF25}xample\u{FF0E}com/\u{FF21}")
        #expect(wide.localpart == "juliet")
        #expect(wide.domainpart == "example.com")
        #expect(wide.resourcepart == "\u{FF21}")
        // Ideographic full stop separates labels.
        #expect(try JID("例え\u{3002}テスト").domainpart == "例え.テスト")
    }

    @Test func trailingDotStripped() throws {
        #expect(try JID("juliet@example.com./foo").description == "juliet@example.com/foo")
        #expect(try JID("example.com.").domainpart == "example.com")
        #expect(throws: JIDError.emptyDomainpart) { try JID("juliet@./foo") }
    }

    @Test func nonASCIIDomains() throws {
        #expect(try JID("juliet@bücher.example").domainpart == "bücher.example")
        #expect(try JID("juliet@BÜCHER.example").domainpart == "bücher.example")
        #expect(try JID("juliet@xn--bcher-kva.example").domainpart == "xn--bcher-kva.example")
        #expect(try JID("日本語.jp").domainpart == "日本語.jp")
    }

    @Test func ipv6LiteralsAreCanonical() throws {
        #expect(try JID("[0:0:0:0:0:0:0:1]").domainpart == "[::1]")
        #expect(try JID("[2001:0DB8:0000:0000:0001:0000:0000:0001]").domainpart == "[2001:db8::1:0:0:1]")
        #expect(try JID("[2001:db8:0:1:1:1:1:1]").domainpart == "[2001:db8:0:1:1:1:1:1]")
        #expect(try JID("[::]").domainpart == "[::]")
        #expect(try JID("[::ffff:192.0.2.1]").domainpart == "[::ffff:192.0.2.1]")
        #expect(try JID("[::ffff:c000:201]").domainpart == "[::ffff:192.0.2.1]")
        #expect(try JID("[64:ff9b::192.0.2.33]").domainpart == "[64:ff9b::c000:221]")
    }

    @Test func lengthLimits() throws {
        let l1023 = String(repeating: "a", count: 1023)
        let l1024 = String(repeating: "a", count: 1024)
        #expect(try JID("\(l1023)@example.com").localpart == l1023)
        #expect(throws: JIDError.localpartTooLong) { try JID("\(l1024)@example.com") }
        #expect(try JID("example.com/\(l1023)").resourcepart == l1023)
        #expect(throws: JIDError.resourcepartTooLong) { try JID("example.com/\(l1024)") }
        #expect(throws: JIDError.resourcepartTooLong) { try JID("example.com/" + String(repeating: "é", count: 512)) }
        #expect(throws: JIDError.localpartTooLong) { try JID(String(repeating: "x", count: 100_000) + "@example.com") }

        // Domain: labels of 63 bytes, total 1023 bytes.
        let label63 = String(repeating: "a", count: 63)
        #expect(try JID("\(label63).com").domainpart == "\(label63).com")
        #expect(throws: JIDError.invalidDomainpart) { try JID("\(label63)a.com") }
        let longDomain = Array(repeating: label63, count: 16).joined(separator: ".") // 16*63+15 = 1023
        #expect(longDomain.utf8.count == 1023)
        #expect(try JID(longDomain).domainpart == longDomain)
        #expect(try JID(longDomain + ".").domainpart == longDomain)
        #expect(throws: JIDError.domainpartTooLong) { try JID("a" + longDomain) }
        // Non-ASCII labels: the A-label would exceed 63 octets.
        #expect(throws: JIDError.invalidDomainpart) { try JID(String(repeating: "ü", count: 60) + ".example") }
    }

    @Test func partsInitialiser() throws {
        let jid = try JID(localpart: "Romeo", domainpart: "Example.NET", resourcepart: "Orchard")
        #expect(jid.description == "romeo@example.net/Orchard")
        #expect(jid == (try JID("romeo@example.net/Orchard")))
        #expect(try JID(localpart: nil, domainpart: "example.net", resourcepart: nil).description == "example.net")
        #expect(throws: JIDError.emptyLocalpart) { try JID(localpart: "", domainpart: "example.net", resourcepart: nil) }
        #expect(throws: JIDError.emptyResourcepart) { try JID(localpart: nil, domainpart: "example.net", resourcepart: "") }
        #expect(throws: JIDError.emptyDomainpart) { try JID(localpart: "a", domainpart: "", resourcepart: nil) }
        #expect(throws: JIDError.invalidLocalpart) { try JID(localpart: "a@b", domainpart: "example.net", resourcepart: nil) }
        #expect(throws: JIDError.invalidLocalpart) { try JID(localpart: "a/b", domainpart: "example.net", resourcepart: nil) }
        #expect(throws: JIDError.invalidDomainpart) { try JID(localpart: nil, domainpart: "a/b", resourcepart: nil) }
        #expect(throws: JIDError.invalidDomainpart) { try JID(localpart: nil, domainpart: "a@b", resourcepart: nil) }
        // A resourcepart may contain '/' and '@'.
        #expect(try JID(localpart: nil, domainpart: "a", resourcepart: "b/c@d").resourcepart == "b/c@d")
    }

    @Test func bareAndWithResource() throws {
        let full = try JID("juliet@example.com/balcony")
        #expect(!full.isBare)
        let bare = full.bare
        #expect(bare.isBare)
        #expect(bare.description == "juliet@example.com")
        #expect(bare == (try JID("juliet@example.com")))
        #expect(bare.bare == bare)

        let other = try bare.with(resource: "Chamber")
        #expect(other.description == "juliet@example.com/Chamber")
        #expect(try full.with(resource: nil) == bare)
        #expect(try full.with(resource: "caf\u{65}\u{301}").resourcepart == "caf\u{E9}")
        #expect(throws: JIDError.emptyResourcepart) { try full.with(resource: "") }
        #expect(throws: JIDError.invalidResourcepart) { try full.with(resource: "a\u{0}b") }
        #expect(throws: JIDError.resourcepartTooLong) { try full.with(resource: String(repeating: "r", count: 1024)) }
    }

    @Test func descriptionRoundTrips() throws {
        for s in ["example.com", "example.com/r", "l@example.com", "l@example.com/r/s@t", "[::1]", "π@例え.テスト/♚"] {
            let jid = try JID(s)
            #expect(jid.description == s)
            #expect(try JID(jid.description) == jid)
        }
    }
}
