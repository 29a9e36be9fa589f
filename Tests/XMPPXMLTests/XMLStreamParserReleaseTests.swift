import Testing
@testable import XMPPXML

private let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='localhost' version='1.0'>"

/// Releasing an idle stream's expat state and rebuilding it must not change what the stream parses.
@Suite struct XMLStreamParserReleaseTests {
    private func stanzas(_ parser: XMLStreamParser, _ text: String) throws -> [XElement] {
        try parser.feed(text).compactMap { if case .element(let element) = $0 { element } else { nil } }
    }

    @Test func stanzasAfterARebuildResolveTheSameNamespaces() throws {
        let kept = XMLStreamParser(), released = XMLStreamParser()
        _ = try kept.feed(header)
        _ = try released.feed(header)
        let input = ["<message to='a@b'><body>1</body></message>", "<db:result from='x' to='y'>key</db:result>",
                     "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>", " ", "<presence/>"]
        for chunk in input {
            #expect(released.releaseIfIdle())
            #expect(released.isReleased)
            #expect(try stanzas(released, chunk) == stanzas(kept, chunk))
            #expect(!released.isReleased)
        }
        #expect(try released.feed("</stream:stream>") == [.streamEnd])
    }

    @Test func notReleasedInsideAStanzaOrBeforeTheRoot() throws {
        let parser = XMLStreamParser()
        #expect(!parser.releaseIfIdle(), "no stream root yet")
        _ = try parser.feed(header + "<message to='a@b'><bo")
        #expect(!parser.releaseIfIdle(), "a stanza is half read")
        #expect(try stanzas(parser, "dy>hi</body></message>").count == 1)
        #expect(parser.releaseIfIdle())
    }

    @Test func limitsStillApplyAfterARebuild() throws {
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxTokenBytes: 64, maxElementBytes: 128, maxDepth: 4))
        _ = try parser.feed(header)
        #expect(parser.releaseIfIdle())
        #expect(throws: XMLStreamError.self) {
            _ = try parser.feed("<message><body>" + String(repeating: "x", count: 200) + "</body></message>")
        }
        let deep = XMLStreamParser(limits: XMLStreamLimits(maxDepth: 3))
        _ = try deep.feed(header)
        #expect(deep.releaseIfIdle())
        #expect(throws: XMLStreamError.self) { _ = try deep.feed("<a><b><c/></b></a>") }
    }

    @Test func restrictedXMLIsStillRefusedAfterARebuild() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header)
        #expect(parser.releaseIfIdle())
        #expect(throws: XMLStreamError.restrictedXML("comment")) { _ = try parser.feed("<!-- no -->") }
    }
}
