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
/// parsed from the old stream are then dropped.
public final class XMLStreamDecoder: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = DecodedStreamEvent

    private var parser: XMLStreamParser
    private var generation = 0
    private var failed = false

    public init(limits: XMLStreamLimits) {
        parser = XMLStreamParser(limits: limits)
    }

    /// Bytes fed to the current parser that have not completed any event yet.
    public var unconsumedByteCount: Int { parser.unconsumedByteCount }

    public func reset(limits: XMLStreamLimits) {
        parser = XMLStreamParser(limits: limits)
        generation += 1
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let buffer = unwrapInboundIn(data)
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
