import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Whether a hook took care of a stanza or routing goes on.
public enum HookResult: Sendable, Hashable {
    case pass
    case handled
}

/// A stanza a local client sent, after `from` was stamped and before it is routed.
public struct OutboundStanza: Sendable {
    public var stanza: Stanza
    public let session: LocalSession
    /// The addressee (`to`, or the sender's bare JID when `to` is absent, RFC 6120 §10.3).
    public var to: JID
}

/// A stanza addressed to a local account or the server, before it is delivered or answered.
public struct InboundStanza: Sendable {
    public var stanza: Stanza
    public let from: JID
    public let to: JID
}

public typealias OutboundHook = @Sendable (inout OutboundStanza) async -> HookResult
public typealias InboundHook = @Sendable (inout InboundStanza) async -> HookResult
/// A message for an account with no session that can take it. Returns true when the hook took it
/// (stored it for later); otherwise the sender gets `service-unavailable`.
public typealias UndeliverableMessageHook = @Sendable (InboundStanza) async -> Bool
/// A message was delivered to these sessions of the addressee (message carbons, XEP-0280).
public typealias DeliveredMessageHook = @Sendable (InboundStanza, [LocalSession]) async -> Void
public typealias SessionHook = @Sendable (LocalSession) async -> Void
/// Decides, per receiving session, whether a routed stanza may reach it (blocking, privacy).
public typealias DeliveryFilter = @Sendable (Stanza, LocalSession) -> Bool
public typealias AccountHook = @Sendable (JID) async -> Void

struct Prioritised<Hook> {
    var priority: Int
    var hook: Hook
}

extension Array {
    mutating func insert<Hook>(_ hook: Hook, priority: Int) where Element == Prioritised<Hook> {
        let index = firstIndex { $0.priority < priority } ?? count
        insert(Prioritised(priority: priority, hook: hook), at: index)
    }
}
