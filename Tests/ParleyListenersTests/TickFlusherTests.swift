import NIOCore
import NIOEmbedded
@testable import ParleyNIO
import Testing

/// Connections written to during a tick are flushed once, after the loop's current work.
@Suite("Flushing once per event-loop tick")
struct TickFlusherTests {
    final class Connection: TickFlushable {
        var flushes = 0
        var again: (() -> Void)?
        func flushDeferred() {
            flushes += 1
            again?()
        }
    }

    @Test func queuedConnectionsAreFlushedAfterTheCurrentWork() {
        let loop = EmbeddedEventLoop()
        let flusher = TickFlusher.current(on: loop)
        #expect(TickFlusher.current(on: loop) === flusher, "one flusher per loop")
        let first = Connection(), second = Connection()
        flusher.flushAtEndOfTick(first)
        flusher.flushAtEndOfTick(second)
        #expect(first.flushes == 0 && second.flushes == 0, "nothing flushed before the loop runs its tasks")
        loop.run()
        #expect(first.flushes == 1 && second.flushes == 1)
        loop.run()
        #expect(first.flushes == 1 && second.flushes == 1, "a flush is not repeated without new writes")
    }

    @Test func aConnectionQueuedWhileFlushingIsFlushedInTheNextRound() {
        let loop = EmbeddedEventLoop()
        let flusher = TickFlusher.current(on: loop)
        let connection = Connection()
        var requeued = false
        connection.again = {
            guard !requeued else { return }
            requeued = true
            flusher.flushAtEndOfTick(connection)
        }
        flusher.flushAtEndOfTick(connection)
        loop.run()
        #expect(connection.flushes == 2, "the write made during the flush got its own flush")
    }
}
