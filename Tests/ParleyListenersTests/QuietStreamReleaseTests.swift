#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOEmbedded
@testable import ParleyNIO
import Testing
import XMPPStream
import XMPPXML

/// A stream that stays quiet gives back its parser state, and the next input is parsed as before.
@Suite("Releasing the parser state of quiet streams")
struct QuietStreamReleaseTests {
    private let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>"

    private func elements(_ channel: EmbeddedChannel) throws -> [XElement] {
        var found: [XElement] = []
        while let event = try channel.readInbound(as: DecodedStreamEvent.self) {
            if case .event(let streamEvent) = event, case .element(let element) = streamEvent { found.append(element) }
        }
        return found
    }

    @Test func aQuietStreamIsReleasedByTheSweepAndResumesOnInput() throws {
        let decoder = XMLStreamDecoder(limits: XMLStreamLimits(), releaseAfter: .milliseconds(100))
        let channel = EmbeddedChannel(handler: decoder)
        try channel.writeInbound(channel.allocator.buffer(string: header + "<presence/>"))
        #expect(try elements(channel).map(\.name) == ["presence"])

        // Sweeps run on the loop's clock; quietness is measured on the real one.
        channel.embeddedEventLoop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(!decoder.isParserReleased, "not quiet for long enough yet")
        usleep(200_000)
        channel.embeddedEventLoop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(decoder.isParserReleased)

        try channel.writeInbound(channel.allocator.buffer(string: "<message to='a@localhost'><body>hi</body></message>"))
        let resumed = try elements(channel)
        #expect(resumed.map(\.name) == ["message"])
        #expect(resumed.first?.namespace == "jabber:client", "the stream's default namespace still applies")
        #expect(!decoder.isParserReleased)
        _ = try channel.finish()
    }

    @Test func aStreamInTheMiddleOfAStanzaKeepsItsParser() throws {
        let decoder = XMLStreamDecoder(limits: XMLStreamLimits(), releaseAfter: .milliseconds(100))
        let channel = EmbeddedChannel(handler: decoder)
        try channel.writeInbound(channel.allocator.buffer(string: header + "<message><bo"))
        usleep(200_000)
        channel.embeddedEventLoop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(!decoder.isParserReleased)
        try channel.writeInbound(channel.allocator.buffer(string: "dy>x</body></message>"))
        #expect(try elements(channel).map(\.name) == ["message"])
        _ = try channel.finish()
    }

    /// Streams quiet for 0.6 s keep their parsers, unless more streams hold one than the sweeper's
    /// bound: then the next sweep releases those quiet for half a second.
    @Test(arguments: [false, true])
    func aCrowdedLoopReleasesQuietStreamsSooner(crowded: Bool) throws {
        let loop = EmbeddedEventLoop()
        let sweeper = QuietStreamSweeper.current(on: loop)
        sweeper.crowdedParserCount = crowded ? 2 : 2048
        defer { sweeper.crowdedParserCount = 2048 }
        var decoders: [XMLStreamDecoder] = []
        var channels: [EmbeddedChannel] = []
        for _ in 0..<3 {
            let decoder = XMLStreamDecoder(limits: XMLStreamLimits())
            let channel = EmbeddedChannel(handler: decoder, loop: loop)
            try channel.writeInbound(channel.allocator.buffer(string: header + "<presence/>"))
            #expect(try elements(channel).map(\.name) == ["presence"])
            decoders.append(decoder)
            channels.append(channel)
        }
        usleep(600_000)
        loop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(decoders.allSatisfy { !$0.isParserReleased }, "quiet for less than two seconds")
        #expect(sweeper.crowded == crowded)
        loop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(decoders.allSatisfy { $0.isParserReleased == crowded })
        for channel in channels { _ = try channel.finish() }
    }
}
