import NIOCore
import XMPPStream
import XMPPXML

/// What the decoder passes up the pipeline.
public enum DecodedStreamEvent: Sendable {
    case event(StreamEvent)
    /// The bytes are not acceptable XML; the stream is unusable and no more events follow.
    case failure(XMLStreamError)
}

/// Turns a TCP byte stream into stream events with an expat push parser (one per stream).
///
/// The next handler calls `reset(limits:)` on a stream restart (RFC 6120 §4.3.3); events already
/// parsed from the old stream are then dropped. When the peer has sent nothing for `releaseAfter`,
/// the parser's expat state is released (see `XMLStreamParser.releaseIfIdle`; the event loop's
/// `QuietStreamSweeper` looks twice a second): most connections of a server are idle most of the
/// time, and expat's buffers were the largest part of their memory.
public final class XMLStreamDecoder: ChannelInboundHandler, QuietStreamMember {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = DecodedStreamEvent

    /// How long a stream must be quiet before its parser state is released.
    public static let defaultReleaseAfter = TimeAmount.seconds(2)

    private var parser: XMLStreamParser
    private var generation = 0
    private var failed = false
    private let releaseAfter: TimeAmount
    private var lastInput = NIODeadline.now()
    private var sweeper: QuietStreamSweeper?
    public var quietStreamSlot = -1

    public init(limits: XMLStreamLimits, releaseAfter: TimeAmount = XMLStreamDecoder.defaultReleaseAfter) {
        parser = XMLStreamParser(limits: limits)
        self.releaseAfter = releaseAfter
    }

    /// Bytes fed to the current parser that have not completed any event yet.
    public var unconsumedByteCount: Int { parser.unconsumedByteCount }

    public func reset(limits: XMLStreamLimits) {
        parser = XMLStreamParser(limits: limits)
        generation += 1
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let sweeper = QuietStreamSweeper.current(on: context.eventLoop)
        sweeper.add(self)
        self.sweeper = sweeper
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        sweeper?.remove(self)
        sweeper = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        sweeper?.remove(self)
        sweeper = nil
        context.fireChannelInactive()
    }

    /// Whether the parser's expat state is currently released (for tests).
    var isParserReleased: Bool { parser.isReleased }

    /// When the peer last sent anything.
    public var lastInputTime: NIODeadline { lastInput }

    /// Called by the sweeper: releases the parser state if the peer has been quiet long enough.
    public func sweep(now: NIODeadline) {
        guard !failed, now - lastInput >= releaseAfter else { return }
        parser.releaseIfIdle()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let buffer = unwrapInboundIn(data)
        lastInput = .now()
        let events: [XMLStreamEvent]
        do {
            events = try buffer.withUnsafeReadableBytes { bytes in try parser.feed(bytes) }
        } catch {
            failed = true
            let streamError = error as? XMLStreamError ?? .notWellFormed("\(error)")
            context.fireChannelRead(wrapInboundOut(.failure(streamError)))
            return
        }
        let current = generation
        for event in events {
            guard current == generation, !failed else { return }
            context.fireChannelRead(wrapInboundOut(.event(StreamEvent(event))))
        }
    }
}
