import NIOCore

/// A connection that wrote without flushing and wants one flush once the event loop has done the
/// rest of its current work.
public protocol TickFlushable: AnyObject {
    func flushDeferred()
}

/// Flushes, once per event-loop tick, the connections that were written to during it.
///
/// A stanza routed to a session used to be written and flushed at once: one `write` system call
/// per stanza. A login makes twenty or so stanzas for the same new session in one go (the contacts'
/// presence answering its probes), and on loopback each call also runs the receiver's TCP input.
/// Deferring the flush to a task queued behind the loop's current work sends them in one call,
/// and costs a single queued task per tick however many connections were written. Use only on the
/// loop it belongs to.
public final class TickFlusher {
    private static let flushers = PerEventLoop { TickFlusher(eventLoop: $0) }

    private let eventLoop: any EventLoop
    private var pending: [any TickFlushable] = []
    private var spare: [any TickFlushable] = []

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// The flusher of the calling event loop.
    public static func current(on eventLoop: any EventLoop) -> TickFlusher {
        flushers.current(on: eventLoop)
    }

    /// Calls `member.flushDeferred()` after the loop's current work. The caller keeps its own
    /// "already pending" flag, so that a member is queued once per tick.
    public func flushAtEndOfTick(_ member: any TickFlushable) {
        pending.append(member)
        guard pending.count == 1 else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute { bound.value.flushPending() }
    }

    private func flushPending() {
        // Flushing may make more writes (and queue more members): those go to the next round.
        swap(&pending, &spare)
        for member in spare { member.flushDeferred() }
        spare.removeAll(keepingCapacity: true)
    }
}
