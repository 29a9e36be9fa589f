import NIOCore
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
        let route = self.route
        return ImmediateWork.finishedInline(on: eventLoop, { await route(stanza) }, resumed: { [self] in resumed() })
    }

    private func resumed() {
        busy = false
        if let stanza = takeNext() { run(stanza) }
    }
}
