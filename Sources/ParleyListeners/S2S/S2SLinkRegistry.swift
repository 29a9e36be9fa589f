import Synchronization
import XMPPStream

/// What `parley s2s list` shows: every authenticated domain pair, by direction.
public final class S2SLinkRegistry: Sendable {
    public enum Direction: String, Sendable, Codable { case inbound, outbound }

    public struct Entry: Sendable, Hashable, Codable {
        public var local: String
        public var remote: String
        public var direction: Direction
        public var method: String
        public var secure: Bool
        public var since: Int64
    }

    private let entries = Mutex<[Int: Entry]>([:])
    private let nextToken = Atomic<Int>(0)

    public init() {}

    public func add(_ entry: Entry) -> Int {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        entries.withLock { $0[token] = entry }
        return token
    }

    public func remove(_ token: Int) {
        _ = entries.withLock { $0.removeValue(forKey: token) }
    }

    public var all: [Entry] {
        entries.withLock { Array($0.values) }.sorted { ($0.remote, $0.local, $0.direction.rawValue) < ($1.remote, $1.local, $1.direction.rawValue) }
    }
}
