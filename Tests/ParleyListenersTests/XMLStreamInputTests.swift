import NIOCore
@testable import ParleyNIO
import Testing
import XMPPXML

/// The input side of a stream that a client handler parses itself.
@Suite("A stream's input parser")
struct XMLStreamInputTests {
    private let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"
    private let allocator = ByteBufferAllocator()

    private func names(_ result: Result<[XMLStreamEvent], XMLStreamError>) -> [String] {
        guard case .success(let events) = result else { return ["failure"] }
        return events.map { event in
            switch event {
            case .streamStart(let name, _, _, _): "start:" + name
            case .element(let element): element.name
            case .streamEnd: "end"
            }
        }
    }

    @Test func eventsComeInOrderAcrossReads() {
        var input = XMLStreamInput(limits: XMLStreamLimits())
        #expect(names(input.feed(allocator.buffer(string: header + "<presence/><mess"))) == ["start:stream", "presence"])
        #expect(names(input.feed(allocator.buffer(string: "age><body>hi</body></message>"))) == ["message"])
    }

    @Test func aResetStartsANewStreamAndCountsAGeneration() {
        var input = XMLStreamInput(limits: XMLStreamLimits())
        _ = input.feed(allocator.buffer(string: header))
        #expect(input.generation == 0)
        input.reset(limits: XMLStreamLimits())
        #expect(input.generation == 1)
        // The new parser expects a new stream header (RFC 6120 §4.3.3), not the old stream's content.
        #expect(names(input.feed(allocator.buffer(string: header + "<iq type='get' id='1'/>"))) == ["start:stream", "iq"])
    }

    @Test func badXMLFailsOnceAndLaterInputGivesNothing() {
        var input = XMLStreamInput(limits: XMLStreamLimits())
        _ = input.feed(allocator.buffer(string: header))
        guard case .failure(.notWellFormed) = input.feed(allocator.buffer(string: "<a></b>")) else {
            Issue.record("expected not-well-formed")
            return
        }
        #expect(input.failed)
        #expect(names(input.feed(allocator.buffer(string: "<presence/>"))) == [])
    }

    @Test func restrictedXMLIsRefused() {
        var input = XMLStreamInput(limits: XMLStreamLimits())
        _ = input.feed(allocator.buffer(string: header))
        guard case .failure(.restrictedXML) = input.feed(allocator.buffer(string: "<!-- hi -->")) else {
            Issue.record("expected restricted-xml")
            return
        }
    }
}
