import Synchronization
import XMPPXML

/// IQs the server sent and is waiting on (e.g. XEP-0199 pings to clients), matched by id.
final class PendingIQs: Sendable {
    private let waiting = Mutex<[String: CheckedContinuation<XElement?, Never>]>([:])

    func register(id: String, continuation: CheckedContinuation<XElement?, Never>) {
        waiting.withLock { $0[id] = continuation }
    }

    /// Completes the request with this id, if one is waiting. Returns whether one was.
    @discardableResult
    func complete(id: String, with response: XElement?) -> Bool {
        guard let continuation = waiting.withLock({ $0.removeValue(forKey: id) }) else { return false }
        continuation.resume(returning: response)
        return true
    }
}
