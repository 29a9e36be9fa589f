import Synchronization
import XMPPProtocol

/// Every open client connection, authenticated or not: for connection limits and for shutdown.
public final class ConnectionTracker: Sendable {
    public typealias Terminate = @Sendable (StreamError) -> Void
    private struct Entry { var address: String; var terminate: Terminate }
    private let entries = Mutex<(next: Int, table: [Int: Entry], perAddress: [String: Int])>((0, [:], [:]))
    public let maxConnections: Int
    public let maxPerAddress: Int

    /// A limit of 0 means unlimited.
    public init(maxConnections: Int, maxPerAddress: Int) {
        self.maxConnections = maxConnections
        self.maxPerAddress = maxPerAddress
    }

    /// Registers a connection, or returns nil when a limit is reached.
    public func admit(address: String, terminate: @escaping Terminate) -> Int? {
        entries.withLock { state in
            if maxConnections > 0 && state.table.count >= maxConnections { return nil }
            if maxPerAddress > 0 && state.perAddress[address, default: 0] >= maxPerAddress { return nil }
            state.next += 1
            state.table[state.next] = Entry(address: address, terminate: terminate)
            state.perAddress[address, default: 0] += 1
            return state.next
        }
    }

    public func remove(_ token: Int) {
        entries.withLock { state in
            guard let entry = state.table.removeValue(forKey: token) else { return }
            let remaining = state.perAddress[entry.address, default: 1] - 1
            state.perAddress[entry.address] = remaining > 0 ? remaining : nil
        }
    }

    public var count: Int { entries.withLock { $0.table.count } }

    /// Ends every connection's stream (e.g. `system-shutdown`).
    public func terminateAll(_ error: StreamError) {
        let all = entries.withLock { Array($0.table.values) }
        for entry in all { entry.terminate(error) }
    }
}
