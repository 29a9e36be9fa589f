import Synchronization
import XMPPAddress
import XMPPXML

/// IQs the server sent and is waiting on (e.g. XEP-0199 pings to clients), matched by id and responder.
final class PendingIQs: Sendable {
    private struct Waiter {
        var responder: JID
        var continuation: CheckedContinuation<XElement?, Never>
        var timer: Task<Void, Never>?
    }

    private let waiting = Mutex<[String: Waiter]>([:])

    func register(id: String, responder: JID, continuation: CheckedContinuation<XElement?, Never>) {
        waiting.withLock { $0[id] = Waiter(responder: responder, continuation: continuation) }
    }

    func setTimer(id: String, _ timer: Task<Void, Never>) {
        let stale = waiting.withLock { table -> Bool in
            guard table[id] != nil else { return true }
            table[id]!.timer = timer
            return false
        }
        if stale { timer.cancel() }
    }

    /// Completes the request with this id if `from` is the entity it was sent to (a reply from anyone
    /// else must not be taken for it). Returns whether a request was completed.
    @discardableResult
    func complete(id: String, from: JID?, with response: XElement?) -> Bool {
        let waiter = waiting.withLock { table -> Waiter? in
            guard let waiter = table[id] else { return nil }
            if let from, from != waiter.responder { return nil }
            return table.removeValue(forKey: id)
        }
        guard let waiter else { return false }
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: response)
        return true
    }

    func expire(id: String) {
        guard let waiter = waiting.withLock({ $0.removeValue(forKey: id) }) else { return }
        waiter.continuation.resume(returning: nil)
    }
}
