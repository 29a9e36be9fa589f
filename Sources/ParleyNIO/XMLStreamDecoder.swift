import NIOCore
import XMPPStream
import XMPPXML

/// Turns a TCP byte stream into stream events passed up the pipeline (`XMLStreamInput` does the
/// parsing; server-to-server streams use this handler, client streams parse in their own handler).
///
/// The next handler calls `reset(limits:)` on a stream restart (RFC 6120 §4.3.3); events already
/// parsed from the old stream are then dropped. The event loop's `QuietStreamSweeper` releases the
/// parser state of a quiet stream (see `XMLStreamInput.sweep(now:sweeper:)`).
public final class XMLStreamDecoder: ChannelInboundHandler, QuietStreamMember {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = DecodedStreamEvent

    private var input: XMLStreamInput
    private var sweeper: QuietStreamSweeper?
    public var quietStreamSlot = -1

    public init(limits: XMLStreamLimits, releaseAfter: TimeAmount = XMLStreamInput.defaultReleaseAfter) {
        input = XMLStreamInput(limits: limits, releaseAfter: releaseAfter)
    }

    /// Bytes fed to the current parser that have not completed any event yet.
    public var unconsumedByteCount: Int { input.unconsumedByteCount }

    public func reset(limits: XMLStreamLimits) {
        input.reset(limits: limits)
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
    var isParserReleased: Bool { input.isParserReleased }

    /// When the peer last sent anything.
    public var lastInputTime: NIODeadline { input.lastInputTime }

    public func sweep(now: NIODeadline) {
        guard let sweeper else { return }
        input.sweep(now: now, sweeper: sweeper)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch input.feed(unwrapInboundIn(data)) {
        case .failure(let error):
            context.fireChannelRead(wrapInboundOut(.failure(error)))
        case .success(let events):
            let current = input.generation
            for event in events {
                guard current == input.generation else { return }
                context.fireChannelRead(wrapInboundOut(.event(StreamEvent(event))))
            }
        }
    }
}
