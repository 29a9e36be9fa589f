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
/// the parser's expat state is released (see `XMLStreamParser.releaseIfIdle`): most connections of
/// a server are idle most of the time, and expat's buffers were the largest part of their memory.
public final class XMLStreamDecoder: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = DecodedStreamEvent

    /// How long a stream must be quiet before its parser state is released.
    public static let defaultReleaseAfter = TimeAmount.seconds(2)

    private var parser: XMLStreamParser
    private var generation = 0
    private var failed = false
    private let releaseAfter: TimeAmount
    private var lastInput = NIODeadline.now()
    private var releaseTimer: Scheduled<Void>?

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

    public func handlerRemoved(context: ChannelHandlerContext) {
        releaseTimer?.cancel()
        releaseTimer = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        releaseTimer?.cancel()
        releaseTimer = nil
        context.fireChannelInactive()
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
        if releaseTimer == nil { scheduleRelease(context: context, in: releaseAfter) }
    }

    /// One timer per connection at most, re-armed from the last input until the stream is quiet.
    private func scheduleRelease(context: ChannelHandlerContext, in delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        releaseTimer = context.eventLoop.scheduleTask(in: delay) {
            let (decoder, context) = loopBound.value
            decoder.releaseTimer = nil
            guard !decoder.failed, context.channel.isActive else { return }
            let quiet = NIODeadline.now() - decoder.lastInput
            if quiet >= decoder.releaseAfter {
                decoder.parser.releaseIfIdle()
            } else {
                decoder.scheduleRelease(context: context, in: decoder.releaseAfter - quiet)
            }
        }
    }
}
