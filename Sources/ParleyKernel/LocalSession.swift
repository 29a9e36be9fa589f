import Synchronization
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Per-session state the kernel and modules keep (RFC 6121 presence state and module flags).
public struct SessionState: Sendable {
    /// The session's current available presence (RFC 6121 §4.2), nil while unavailable.
    public var availablePresence: XElement?
    /// The priority of that presence (RFC 6121 §4.7.2.3); meaningful only while available.
    public var priority: Int = 0
    /// Whether the client asked for its roster (an "interested resource", RFC 6121 §2.1.6).
    public var interestedInRoster = false
    /// Whether the session has sent its initial presence (RFC 6121 §4.2).
    public var sentInitialPresence = false
    /// Entities this session sent directed available presence to (RFC 6121 §4.6).
    public var directedPresence: Set<JID> = []
    /// Flags modules set on the session (e.g. "carbons").
    public var flags: Set<String> = []

    public init() {}

    public var isAvailable: Bool { availablePresence != nil }
}

/// A bound client session as the kernel sees it: its full JID, its transport, and its state.
public final class LocalSession: Sendable {
    public let jid: JID
    public let transport: any SessionHandle
    private let stateStorage = Mutex(SessionState())

    public init(jid: JID, transport: any SessionHandle) {
        self.jid = jid
        self.transport = transport
    }

    public var state: SessionState { stateStorage.withLock { $0 } }

    @discardableResult
    public func update<Result: Sendable>(_ body: (inout SessionState) -> Result) -> Result {
        stateStorage.withLock { body(&$0) }
    }

    // Accessors for the fields hot paths read, so that they copy one field and not the whole state.
    public var isAvailable: Bool { stateStorage.withLock { $0.availablePresence != nil } }
    public var availablePresence: XElement? { stateStorage.withLock { $0.availablePresence } }
    public var isInterestedInRoster: Bool { stateStorage.withLock { $0.interestedInRoster } }
    public var priority: Int { stateStorage.withLock { $0.priority } }
    /// The priority of the session's available presence; nil while unavailable. Read for each
    /// message to a bare JID, without copying the rest of the state.
    public var deliveryPriority: Int? { stateStorage.withLock { $0.availablePresence != nil ? $0.priority : nil } }
    public func has(flag: String) -> Bool { stateStorage.withLock { $0.flags.contains(flag) } }

    /// Queues a stanza for the client, bypassing delivery hooks (use `Kernel.deliver` for routed stanzas).
    public func send(_ element: XElement) { transport.deliver(element) }
}
