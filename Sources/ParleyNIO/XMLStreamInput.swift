import NIOCore
import XMPPStream
import XMPPXML

/// What a stream's bytes turned into: its events, or why it is unusable.
public enum DecodedStreamEvent: Sendable {
    case event(StreamEvent)
    /// The bytes are not acceptable XML; the stream is unusable and no more events follow.
    case failure(XMLStreamError)
}

/// The input side of one XML stream: an expat push parser (one per stream) and when the peer last
/// sent anything. Held inline by the handler that reads the stream (a client stream's handler
/// parses its own input: a pipeline hop and an event boxed into `NIOAny` per stanza less), or by
/// `XMLStreamDecoder` where events go up a pipeline.
///
/// `reset(limits:)` starts a new parser on a stream restart (RFC 6120 §4.3.3); the reader checks
/// `generation` between events and drops those parsed from the old stream. When the peer has sent
/// nothing for `releaseAfter` (or less while the loop is crowded, see `QuietStreamSweeper`),
/// `sweep(now:sweeper:)` releases the parser's expat state (see `XMLStreamParser.releaseIfIdle`):
/// most connections of a server are idle most of the time, and expat's buffers were the largest
/// part of their memory.
public struct XMLStreamInput {
    /// How long a stream must be quiet before its parser state is released.
    public static let defaultReleaseAfter = TimeAmount.seconds(2)

    private var parser: XMLStreamParser
    /// Counts resets: events parsed before one belong to the old stream.
    public private(set) var generation = 0
    /// Set once the bytes were not acceptable; nothing more is parsed.
    public private(set) var failed = false
    /// When the peer last sent anything.
    public private(set) var lastInputTime = NIODeadline.now()
    private let releaseAfter: TimeAmount

    public init(limits: XMLStreamLimits, releaseAfter: TimeAmount = XMLStreamInput.defaultReleaseAfter) {
        parser = XMLStreamParser(limits: limits)
        self.releaseAfter = releaseAfter
    }

    /// Bytes fed to the current parser that have not completed any event yet.
    public var unconsumedByteCount: Int { parser.unconsumedByteCount }

    /// Whether the parser's expat state is currently released (for tests).
    public var isParserReleased: Bool { parser.isReleased }

    public mutating func reset(limits: XMLStreamLimits) {
        parser = XMLStreamParser(limits: limits)
        generation += 1
    }

    /// Parses the next bytes: the events they completed, in order. After a failure (returned once)
    /// the stream is unusable and later input gives nothing.
    public mutating func feed(_ buffer: ByteBuffer) -> Result<[XMLStreamEvent], XMLStreamError> {
        guard !failed else { return .success([]) }
        lastInputTime = .now()
        do {
            return .success(try buffer.withUnsafeReadableBytes { bytes in try parser.feed(bytes) })
        } catch {
            failed = true
            return .failure(error as? XMLStreamError ?? .notWellFormed("\(error)"))
        }
    }

    /// Called from the loop's sweep: releases the parser state if the peer has been quiet long
    /// enough, and tells the sweeper when it is still held.
    public func sweep(now: NIODeadline, sweeper: QuietStreamSweeper) {
        guard !failed, !parser.isReleased else { return }
        let quietEnough = sweeper.crowded ? min(releaseAfter, QuietStreamSweeper.crowdedReleaseAfter) : releaseAfter
        if now - lastInputTime >= quietEnough, parser.releaseIfIdle() { return }
        sweeper.noteParserHeld()
    }
}
