import NIOCore
import ParleyKernel
import XMPPProtocol

/// Routes the stanzas of one stream strictly one after another (RFC 6120 §10.1).
///
/// Each stanza's routing starts right here, on the stream's event loop: a stanza whose routing never
/// suspends (no storage access, e.g. a message to an online contact) is routed and written to its
/// recipients before `submit` returns, without a task or a hop to another thread. What is left of
/// a routing that must suspend runs as an immediate task; the stanzas after it wait, and go on, in
/// order, on the event loop once it has finished. Belongs to one stream: use it only on `eventLoop`.
final class InOrderRouter {
    private let eventLoop: any EventLoop
    private let route: (Stanza) -> RoutingRemainder?
    private var backlog: [Stanza] = []
    private var backlogStart = 0
    private var busy = false

    /// - Parameter route: routes a stanza as far as it goes without suspending, and returns the rest
    ///   (`Kernel.routeImmediately`, `Kernel.dispatchImmediately`).
    init(eventLoop: any EventLoop, route: @escaping (Stanza) -> RoutingRemainder?) {
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
        guard let remainder = route(stanza) else { return true }
        return ImmediateWork.finishedInline(on: eventLoop, remainder, resumed: { [self] in resumed() })
    }

    private func resumed() {
        busy = false
        if let stanza = takeNext() { run(stanza) }
    }
}
