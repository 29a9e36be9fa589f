import Synchronization
import XMPPAddress

/// Runs one body at a time per user, in arrival order: an async mutex keyed by bare JID.
final class OfflineDeliveryLock: Sendable {
    private let waiters = Mutex<[JID: [CheckedContinuation<Void, Never>]]>([:])

    func withLock(_ user: JID, _ body: () async -> Void) async {
        await acquire(user)
        await body()
        release(user)
    }

    private func acquire(_ user: JID) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = waiters.withLock { table -> Bool in
                if table[user] == nil {
                    table[user] = []
                    return true
                }
                table[user]!.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release(_ user: JID) {
        let next = waiters.withLock { table -> CheckedContinuation<Void, Never>? in
            guard var queue = table[user], !queue.isEmpty else {
                table[user] = nil
                return nil
            }
            let next = queue.removeFirst()
            table[user] = queue
            return next
        }
        next?.resume()
    }
}
