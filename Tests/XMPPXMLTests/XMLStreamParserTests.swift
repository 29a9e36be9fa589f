import Testing
@testable import XMPPXML

private let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0' xml:lang='en'>"
private let stanzas = """
<message to='juliet@example.com' type='chat' id='m1'><body>Wherefore art thou? &amp; &lt;3 😀</body><active xmlns='http://jabber.org/protocol/chatstates'/></message> \
<presence><show>away</show><status>Out &apos;n about</status></presence>
<iq type='get' id='r1'><query xmlns='jabber:iq:roster' ver=''/></iq><x:foo xmlns:x='urn:example:x' x:attr='1'><x:bar>text</x:bar></x:foo>
"""

private func parseAll(_ chunks: [[UInt8]], limits: XMLStreamLimits = XMLStreamLimits()) throws -> [XMLStreamEvent] {
    let parser = XMLStreamParser(limits: limits)
    var events: [XMLStreamEvent] = []
    for chunk in chunks { events += try parser.feed(chunk) }
    return events
}

@Suite struct XMLStreamParserTests {
    let input = Array((header + stanzas + "</stream:stream>").utf8)

    @Test func parsesStreamHeaderAndStanzas() throws {
        let events = try parseAll([input])
        #expect(events.count == 6)
        guard case .streamStart(let name, let namespace, let attributes, let declarations) = events[0] else {
            Issue.record("expected stream start"); return
        }
        #expect(name == "stream")
        #expect(namespace == XMLNamespace.streams)
        #expect(attributes.contains(XAttribute(name: "to", value: "localhost")))
        #expect(attributes.contains(XAttribute(name: "lang", namespace: XMLNamespace.xml, value: "en")))
        #expect(declarations.contains(NamespaceDeclaration(prefix: "", uri: "jabber:client")))
        guard case .element(let message) = events[1] else { Issue.record("expected message"); return }
        #expect(message.name == "message")
        #expect(message.namespace == "jabber:client")
        #expect(message[attribute: "to"] == "juliet@example.com")
        #expect(message.child("body")?.text == "Wherefore art thou? & <3 😀")
        #expect(message.child("active")?.namespace == "http://jabber.org/protocol/chatstates")
        guard case .element(let presence) = events[2] else { Issue.record("expected presence"); return }
        #expect(presence.child("status")?.text == "Out 'n about")
        guard case .element(let prefixed) = events[4] else { Issue.record("expected prefixed element"); return }
        #expect(prefixed.name == "foo" && prefixed.namespace == "urn:example:x")
        #expect(prefixed.attributes == [XAttribute(name: "attr", namespace: "urn:example:x", value: "1")])
        #expect(events.last == .streamEnd)
    }

    @Test func sameEventsByteByByte() throws {
        let whole = try parseAll([input])
        let single = try parseAll(input.map { [$0] })
        #expect(single == whole)
    }

    @Test(arguments: [1, 7, 42, 1234])
    func sameEventsAtRandomSplits(seed: UInt64) throws {
        var generator = SplitMix(seed: seed)
        var chunks: [[UInt8]] = []
        var index = 0
        while index < input.count {
            let length = Int(generator.next() % 40) + 1
            chunks.append(Array(input[index..<min(index + length, input.count)]))
            index += length
        }
        #expect(try parseAll(chunks) == parseAll([input]))
    }

    @Test func completeStanzaIsDeliveredWithoutWaitingForMoreInput() throws {
        // libexpat's reparse deferral would hold this back until more bytes arrived.
        let parser = XMLStreamParser()
        _ = try parser.feed(header)
        _ = try parser.feed("<iq type='get' id='")
        let events = try parser.feed("x'/>")
        #expect(events.count == 1)
    }

    @Test(arguments: [
        "<!DOCTYPE foo [<!ENTITY x 'y'>]>" + header,
        header + "<?evil x?>",
        header + "<!-- hi -->",
    ])
    func restrictedXMLIsRefused(text: String) {
        #expect {
            _ = try parseAll([Array(text.utf8)])
        } throws: { error in
            if case .restrictedXML = error as? XMLStreamError { return true }
            return false
        }
    }

    @Test func malformedXMLIsNotWellFormed() {
        #expect {
            _ = try parseAll([Array((header + "<message><body>x</message>").utf8)])
        } throws: { error in
            if case .notWellFormed = error as? XMLStreamError { return true }
            return false
        }
    }

    @Test func undefinedEntityIsNotWellFormed() {
        #expect(throws: XMLStreamError.self) { _ = try parseAll([Array((header + "<message>&xxe;</message>").utf8)]) }
    }

    @Test func oversizedStanzaIsAPolicyViolation() {
        let body = String(repeating: "a", count: 5000)
        let limits = XMLStreamLimits(maxTokenBytes: 16_384, maxElementBytes: 4096, maxDepth: 64)
        #expect {
            _ = try parseAll([Array((header + "<message><body>\(body)</body></message>").utf8)], limits: limits)
        } throws: { error in
            if case .limitExceeded = error as? XMLStreamError { return true }
            return false
        }
    }

    @Test func oversizedStanzaFedInPiecesIsAPolicyViolation() throws {
        let limits = XMLStreamLimits(maxTokenBytes: 16_384, maxElementBytes: 4096, maxDepth: 64)
        let parser = XMLStreamParser(limits: limits)
        _ = try parser.feed(header + "<message><body>")
        #expect(throws: XMLStreamError.self) {
            for _ in 0..<100 { _ = try parser.feed(String(repeating: "b", count: 100)) }
        }
    }

    @Test func oversizedTagIsAPolicyViolation() throws {
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxTokenBytes: 1024, maxElementBytes: 1 << 20, maxDepth: 64))
        _ = try parser.feed(header)
        #expect(throws: XMLStreamError.limitExceeded("token larger than 1024 bytes")) {
            _ = try parser.feed("<message to='" + String(repeating: "x", count: 2000))
        }
    }

    @Test func deepNestingIsAPolicyViolation() {
        let deep = String(repeating: "<a>", count: 20)
        #expect(throws: XMLStreamError.self) {
            _ = try parseAll([Array((header + deep).utf8)], limits: XMLStreamLimits(maxTokenBytes: 16_384, maxElementBytes: 65_536, maxDepth: 10))
        }
    }

    @Test func parserStaysFailed() throws {
        let parser = XMLStreamParser()
        _ = try? parser.feed(header + "<a></b>")
        #expect(throws: XMLStreamError.self) { _ = try parser.feed("<presence/>") }
    }

    @Test func whitespaceKeepalivesProduceNoEvents() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header)
        #expect(try parser.feed("   \n ").isEmpty)
        #expect(parser.unconsumedByteCount == 0)
    }
}

/// A small deterministic generator so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
