import Testing
@testable import XMPPXML

private let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='localhost' version='1.0'>"

/// Past `recycleAfterBytes` the expat parser is replaced at a stanza boundary (its name tables only
/// grow); the stream must parse exactly as it would have without that.
@Suite struct XMLStreamParserRecycleTests {
    /// Stanzas with distinct element names, prefixes from the root, text and a self-closing one.
    private var traffic: [String] {
        (0..<60).map { index in
            switch index % 4 {
            case 0: "<message to='a@b' id='m\(index)'><body>text \(index) &amp; more</body><x\(index) xmlns='urn:t'/></message>"
            case 1: "<db:result from='x' to='y'>key\(index)</db:result>"
            case 2: "<iq type='get' id='i\(index)'><query xmlns='jabber:iq:roster'/></iq> "
            default: "<presence id='p\(index)'/>"
            }
        }
    }

    private func events(_ parser: XMLStreamParser, _ chunks: [String]) throws -> [XMLStreamEvent] {
        try chunks.flatMap { try parser.feed($0) }
    }

    @Test func recyclingChangesNothingParsedWhetherStanzasArriveTogetherOrSplit() throws {
        let all = header + traffic.joined() + "</stream:stream>"
        let expected = try events(XMLStreamParser(limits: XMLStreamLimits(recycleAfterBytes: .max)), [all])
        #expect(expected.count == traffic.count + 2)
        // One read holding everything; then reads of 7 bytes, which end inside tokens and stanzas.
        let bytes = Array(all.utf8)
        let pieces = stride(from: 0, to: bytes.count, by: 7).map { String(decoding: bytes[$0..<min($0 + 7, bytes.count)], as: UTF8.self) }
        for chunks in [[all], pieces] {
            let parser = XMLStreamParser(limits: XMLStreamLimits(recycleAfterBytes: 300))
            #expect(try events(parser, chunks) == expected)
            #expect(parser.recycleCount >= 10, "about one recycle per 300 bytes of \(bytes.count)")
        }
    }

    /// STARTTLS (RFC 6120 §5.4.3.3) checks that nothing follows `<starttls/>`: a recycle right after
    /// it, at the end of the read, must leave nothing counted as unconsumed.
    @Test func aRecycleAtTheEndOfAReadLeavesNothingUnconsumed() throws {
        let parser = XMLStreamParser(limits: XMLStreamLimits(recycleAfterBytes: header.utf8.count + 1))
        let events = try parser.feed(header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        #expect(events.count == 2)
        #expect(parser.recycleCount == 1)
        #expect(parser.unconsumedByteCount == 0)
        _ = try parser.feed("<presence/><presence/>")
        #expect(parser.unconsumedByteCount == 0)
    }

    @Test func aStreamUnderTheLimitKeepsItsParser() throws {
        let parser = XMLStreamParser()
        _ = try events(parser, [header] + traffic)
        #expect(parser.recycleCount == 0)
        #expect(!parser.isReleased)
    }

    @Test func limitsAndRestrictionsHoldInTheFreshParser() throws {
        let limits = XMLStreamLimits(maxTokenBytes: 64, maxElementBytes: 128, maxDepth: 4, recycleAfterBytes: 200)
        let oversized = XMLStreamParser(limits: limits)
        let padding = String(repeating: "<presence/>", count: 20)
        #expect(throws: XMLStreamError.limitExceeded("stanza larger than 128 bytes")) {
            _ = try oversized.feed(header + padding + "<message><body>" + String(repeating: "x", count: 200) + "</body></message>")
        }
        #expect(oversized.recycleCount >= 1)
        let commented = XMLStreamParser(limits: limits)
        #expect(throws: XMLStreamError.restrictedXML("comment")) { _ = try commented.feed(header + padding + "<!-- no -->") }
        #expect(commented.recycleCount >= 1)
    }
}
