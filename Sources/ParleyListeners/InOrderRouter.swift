import NIOCore
import Synchronization
import XMPPProtocol

/// Routes the stanzas of one stream strictly one after another (RFC 6120 §10.1).
///
/// Each stanza's routing starts right here, on the stream's event loop, as an immediate task: a
/// stanza whose routing never suspends (no storage access, e.g. a message to an online contact) is
/// routed and written to its recipients before `submit` returns, without a hop to another thread.
/// Only when routing suspends do the stanzas after it wait; they go on, in order, on the event loop
/// once it has finished. Belongs to one stream: use it only on `eventLoop`.
final class InOrderRouter {
    private let eventLoop: any EventLoop
    private let route: @Sendable (Stanza) async -> Void
    private var backlog: [Stanza] = []
    private var backlogStart = 0
    private var busy = false

    init(eventLoop: any EventLoop, route: @escaping @Sendable (Stanza) async -> Void) {
        self.eventLoop = eventLoop
        self.route = route
    }

    /// Stanzas waiting for an earlier one's routing to finish.
    var waiting: Int { backlog.count - backlogStart }

    func submit(_ stanza: Stanza) {
        eventLoop.assertInEventLoop()
        if busy {
            backlog.append(stanza)
            return
        }
        run(stanza)
    }

    /// Routes `first` and then the backlog, until one suspends (or there is nothing left).
    private func run(_ first: Stanza) {
        var next: Stanza? = first
        while let stanza = next {
            busy = true
            guard routeFinishedInline(stanza) else { return }
            busy = false
            next = takeNext()
        }
    }

    private func takeNext() -> Stanza? {
        guard backlogStart < backlog.count else { return nil }
        let stanza = backlog[backlogStart]
        backlogStart += 1
        if backlogStart == backlog.count {
            backlog.removeAll(keepingCapacity: backlog.capacity <= 64)
            backlogStart = 0
        }
        return stanza
    }

    /// Starts routing; true when it already finished. Otherwise `resumed()` runs on the event loop
    /// when it does.
    private func routeFinishedInline(_ stanza: Stanza) -> Bool {
        let progress = RoutingProgress()
        let route = self.route
        let eventLoop = self.eventLoop
        let resume = NIOLoopBound(self, eventLoop: eventLoop)
        Task.immediate {
            await route(stanza)
            if !progress.finish() { eventLoop.execute { resume.value.resumed() } }
        }
        return !progress.leaveRunning()
    }

    private func resumed() {
        busy = false
        if let stanza = takeNext() { run(stanza) }
    }
}

/// Who comes second between the routing task finishing and its starter returning: the one that
/// finds the other already there knows how routing ended.
private final class RoutingProgress: Sendable {
    private static let running = 0, starterReturned = 1, finished = 2
    private let state = Atomic<Int>(RoutingProgress.running)

    /// The task finished; false when the starter has already returned (so the task must resume it).
    func finish() -> Bool {
        state.compareExchange(expected: Self.running, desired: Self.finished, ordering: .acquiringAndReleasing).exchanged
    }

    /// The starter returns; false when the task had already finished inline.
    func leaveRunning() -> Bool {
        state.compareExchange(expected: Self.running, desired: Self.starterReturned, ordering: .acquiringAndReleasing).exchanged
    }
}
