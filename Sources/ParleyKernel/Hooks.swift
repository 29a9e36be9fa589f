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

/// What is left of routing a stanza once a step had to suspend (a store read, an IQ handler): the
/// caller runs it before routing the sender's next stanza (RFC 6120 §10.1).
public typealias RoutingRemainder = @Sendable () async -> Void

/// What a hook's immediate variant decided without suspending.
public enum ImmediateHookResult: Sendable, Hashable {
    case pass
    case handled
    /// The hook cannot decide without suspending (a store read): its async variant runs instead, on
    /// the stanza as it is. A variant that answers this must not have changed the stanza or done
    /// anything else first.
    case suspend

    public init(_ result: HookResult) {
        self = result == .pass ? .pass : .handled
    }
}

/// The immediate variant of an `OutboundHook`: the same decision, for when it needs no suspension.
/// Stanzas whose every hook decides immediately are routed without an async task (see
/// `Kernel.routeImmediately`); a hook without one suspends every stanza that reaches it.
public typealias ImmediateOutboundHook = @Sendable (inout OutboundStanza) -> ImmediateHookResult
public typealias ImmediateInboundHook = @Sendable (inout InboundStanza) -> ImmediateHookResult
/// A message for an account with no session that can take it. Returns true when the hook took it
/// (stored it for later); otherwise the sender gets `service-unavailable`.
public typealias UndeliverableMessageHook = @Sendable (InboundStanza) async -> Bool
/// A message was delivered to these sessions of the addressee (message carbons, XEP-0280).
public typealias DeliveredMessageHook = @Sendable (InboundStanza, [LocalSession]) async -> Void
/// The immediate variant of a `DeliveredMessageHook`: false, having done nothing, when it must suspend.
public typealias ImmediateDeliveredMessageHook = @Sendable (InboundStanza, [LocalSession]) -> Bool
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

/// A routing hook with its immediate variant, if it has one.
struct RoutingHook<Value> {
    var hook: @Sendable (inout Value) async -> HookResult
    var immediate: (@Sendable (inout Value) -> ImmediateHookResult)?
}

/// How far running hooks without suspending got.
enum ImmediateHookRun {
    case passed
    case handled
    /// The hook at this index must run suspending, and every hook after it.
    case suspended(at: Int)
}

extension Array {
    /// Runs the hooks' immediate variants in order until one handles the value or must suspend.
    func runImmediately<Value>(_ value: inout Value) -> ImmediateHookRun where Element == Prioritised<RoutingHook<Value>> {
        for index in indices {
            guard let immediate = self[index].hook.immediate else { return .suspended(at: index) }
            switch immediate(&value) {
            case .pass: continue
            case .handled: return .handled
            case .suspend: return .suspended(at: index)
            }
        }
        return .passed
    }

    /// Runs the hooks from `start` on, suspending where they do.
    func runSuspending<Value>(_ value: inout Value, from start: Int) async -> HookResult where Element == Prioritised<RoutingHook<Value>> {
        for entry in self[start...] {
            if await entry.hook.hook(&value) == .handled { return .handled }
        }
        return .pass
    }
}
