import Testing
import XMPPSASL

/// XEP-0185: dialback key generation and verification.
@Suite struct S2SDialbackKeyTests {
    // XEP-0185 §4 ("Example"): secret, receiving server, originating server, stream ID and the resulting key.
    @Test func xep0185WorkedExample() {
        let key = DialbackKey(secret: Array("s3cr3tf0rd14lb4ck".utf8))
        let generated = key.generate(receiving: "xmpp.example.com", originating: "example.org", streamID: "D60000229F")
        #expect(generated == "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643")
        // Step 9: the authoritative server recomputes the same key from the db:verify attributes.
        #expect(key.verify("37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643",
                           receiving: "xmpp.example.com", originating: "example.org", streamID: "D60000229F"))
    }

    // XEP-0220 §2.1.1 (Example 1) and §2.2.2 (Example 13) compute keys with the XEP-0185 algorithm too.
    @Test func xep0220WorkedExamples() {
        let capulet = DialbackKey(secret: Array("s3cr3tf0rd14lb4ck".utf8))
        #expect(capulet.generate(receiving: "montague.example", originating: "capulet.example", streamID: "D60000229F")
            == "b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3")
        let montague = DialbackKey(secret: Array("d14lb4ck43v3r".utf8))
        #expect(montague.verify("225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d",
                                receiving: "capulet.example", originating: "montague.example", streamID: "417GAF25"))
    }

    @Test func keysAreLowerCaseHexSHA256() {
        let key = DialbackKey(secret: Array("secret".utf8)).generate(receiving: "b.example", originating: "a.example", streamID: "sid")
        #expect(key.count == 64)
        #expect(key.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test func generationIsDeterministic() {
        let first = DialbackKey(secret: Array("secret".utf8))
        let second = DialbackKey(secret: Array("secret".utf8))
        let key = first.generate(receiving: "b.example", originating: "a.example", streamID: "sid")
        #expect(first.generate(receiving: "b.example", originating: "a.example", streamID: "sid") == key)
        // Another node of the same network (same secret) computes the same key (XEP-0185 §3).
        #expect(second.generate(receiving: "b.example", originating: "a.example", streamID: "sid") == key)
    }

    @Test func everyInputChangesTheKey() {
        let key = DialbackKey(secret: Array("secret".utf8))
        let base = key.generate(receiving: "b.example", originating: "a.example", streamID: "sid")
        #expect(DialbackKey(secret: Array("other secret".utf8)).generate(receiving: "b.example", originating: "a.example", streamID: "sid") != base)
        #expect(key.generate(receiving: "a.example", originating: "b.example", streamID: "sid") != base)
        #expect(key.generate(receiving: "c.example", originating: "a.example", streamID: "sid") != base)
        #expect(key.generate(receiving: "b.example", originating: "c.example", streamID: "sid") != base)
        #expect(key.generate(receiving: "b.example", originating: "a.example", streamID: "sid2") != base)
    }

    // XEP-0185 §3: the space delimiter keeps "example.info" + "rm.example.org" apart from "example.in" + "form.example.org".
    @Test func concatenationIsUnambiguous() {
        let key = DialbackKey(secret: Array("secret".utf8))
        #expect(key.generate(receiving: "example.info", originating: "rm.example.org", streamID: "sid")
            != key.generate(receiving: "example.in", originating: "form.example.org", streamID: "sid"))
    }

    @Test func verifyAcceptsOnlyTheRightKey() {
        let key = DialbackKey(secret: Array("secret".utf8))
        let good = key.generate(receiving: "b.example", originating: "a.example", streamID: "sid")
        #expect(key.verify(good, receiving: "b.example", originating: "a.example", streamID: "sid"))

        #expect(!key.verify("", receiving: "b.example", originating: "a.example", streamID: "sid"))
        #expect(!key.verify(String(good.dropLast()), receiving: "b.example", originating: "a.example", streamID: "sid"))
        #expect(!key.verify(good + "0", receiving: "b.example", originating: "a.example", streamID: "sid"))
        let flipped = String(good.dropLast()) + (good.last == "0" ? "1" : "0")
        #expect(!key.verify(flipped, receiving: "b.example", originating: "a.example", streamID: "sid"))
        #expect(!key.verify(good.uppercased(), receiving: "b.example", originating: "a.example", streamID: "sid"))
        // The same key is not valid for another stream, another direction or another pair.
        #expect(!key.verify(good, receiving: "b.example", originating: "a.example", streamID: "other"))
        #expect(!key.verify(good, receiving: "a.example", originating: "b.example", streamID: "sid"))
        #expect(!key.verify(good, receiving: "b.example", originating: "evil.example", streamID: "sid"))
        // Nor for a server with another secret.
        #expect(!DialbackKey(secret: Array("other".utf8)).verify(good, receiving: "b.example", originating: "a.example", streamID: "sid"))
    }
}
