import CExpat
import Testing
@testable import XMPPXML

private let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

/// Each expat parser allocates from its own region (`parley_expat_create` in the CExpat shim).
@Suite struct ExpatArenaTests {
    @Test func expatGivesBackEveryBlockItTookFromTheRegion() throws {
        let arena = try #require(parley_expat_arena_create())
        let parser = try #require(parley_expat_create(arena))
        // Reads that end inside tokens make expat buffer and grow; many names fill its tables.
        let stream = header + (0..<200).map { "<message id='\($0)'><body>hello</body><x\($0) xmlns='urn:x\($0 % 7)' a\($0)='v'/></message>" }.joined()
        let bytes = Array(stream.utf8)
        for start in stride(from: 0, to: bytes.count, by: 13) {
            let piece = Array(bytes[start..<min(start + 13, bytes.count)])
            let status = piece.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { parley_expat_parse(parser, arena, $0.baseAddress, Int32($0.count)) }
            }
            #expect(status == XML_STATUS_OK)
        }
        #expect(parley_expat_arena_live(arena) > 5, "the parser's blocks came from the region")
        XML_ParserFree(parser)
        #expect(parley_expat_arena_live(arena) == 0)
        parley_expat_arena_destroy(arena)
    }

    /// What a parser does when no region could be mapped (past the cap, or `mmap` failing).
    @Test func withoutARegionExpatUsesTheHeap() throws {
        let parser = try #require(parley_expat_create(nil))
        let stream = Array((header + "<message><body>hi</body></message>").utf8)
        let status = stream.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { parley_expat_parse(parser, nil, $0.baseAddress, Int32($0.count)) }
        }
        #expect(status == XML_STATUS_OK)
        parley_expat_free_parser(parser, nil)
    }

    /// A size the block header would wrap around is refused, as malloc refuses one it cannot give.
    @Test func aSizeTheHeaderWouldWrapIsRefused() throws {
        let suite = parley_expat_memory_suite()
        #expect(suite.malloc_fcn(Int(bitPattern: UInt.max)) == nil)
        let block = try #require(suite.malloc_fcn(16))
        #expect(suite.realloc_fcn(block, Int(bitPattern: UInt.max)) == nil)
        suite.free_fcn(block)
    }

    @Test func aStreamParserKeepsItsParserInTheRegion() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header + "<presence/>")
        let usage = try #require(parser.arenaUsage)
        #expect(usage.blocks > 5)
        #expect(usage.bytes > 4096)
    }

    /// A stanza bigger than the region: expat's buffer outgrows it and moves to the heap.
    @Test func aStanzaLargerThanTheRegionParses() throws {
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxTokenBytes: 1 << 20, maxElementBytes: 1 << 20))
        let text = String(repeating: "0123456789", count: 10_000)
        let stanza = "<message><body>\(text)</body></message>"
        let bytes = Array((header + stanza + "<presence/>").utf8)
        var elements: [XElement] = []
        for start in stride(from: 0, to: bytes.count, by: 4000) {
            for event in try parser.feed(Array(bytes[start..<min(start + 4000, bytes.count)])) {
                if case .element(let element) = event { elements.append(element) }
            }
        }
        #expect(elements.count == 2)
        #expect(elements.first?.child("body")?.text == text)
    }
}
