import XMPPXML

/// A feature (usually one XEP). Modules register what they serve and never import each other.
public protocol Module: Sendable {
    var name: String { get }
    func register(in registrar: ModuleRegistrar)
    /// Registers what must happen to the data the module keeps for an account whatever its
    /// configuration says (its removal with the account): called for enabled and disabled modules.
    func registerAccountData(in registrar: ModuleRegistrar)
}

extension Module {
    /// Modules that keep nothing per account have nothing to register here.
    public func registerAccountData(in registrar: ModuleRegistrar) {}
}

/// What modules registered. Written only while the kernel is being built, read-only afterwards.
final class ModuleTable: @unchecked Sendable {
    // Safety: every property is mutated only inside `Kernel.init`, before the kernel is shared.
    var iqHandlers: [IQHandlerKey: IQHandler] = [:]
    var serverFeatures: [String] = []
    var accountFeatures: [String] = []
    var serverIdentities: [DiscoIdentity] = []
    var serverExtensions: [XElement] = []
    var streamFeatures: [XElement] = []
    var outbound: [Prioritised<RoutingHook<OutboundStanza>>] = []
    var inbound: [Prioritised<RoutingHook<InboundStanza>>] = []
    var undeliverable: [Prioritised<UndeliverableMessageHook>] = []
    var delivered: [Prioritised<(hook: DeliveredMessageHook, immediate: ImmediateDeliveredMessageHook?)>] = []
    var deliveryFilters: [DeliveryFilter] = []
    var sessionBound: [Prioritised<SessionHook>] = []
    var sessionAvailable: [Prioritised<SessionHook>] = []
    var sessionClosed: [Prioritised<SessionHook>] = []
    var accountDeleted: [AccountHook] = []
}

/// A service-discovery identity (XEP-0030 §3.1).
public struct DiscoIdentity: Sendable, Hashable {
    public var category: String
    public var type: String
    public var name: String?
    public init(category: String, type: String, name: String? = nil) {
        self.category = category
        self.type = type
        self.name = name
    }
}

/// What a module can register while the kernel is built. Hooks with a higher priority run first.
public final class ModuleRegistrar {
    let table: ModuleTable
    /// The kernel, for modules that route, deliver or look up sessions when their hooks run.
    public unowned let kernel: Kernel

    init(table: ModuleTable, kernel: Kernel) {
        self.table = table
        self.kernel = kernel
    }

    /// Serves IQs whose payload is `<name xmlns=namespace/>` of the given types.
    public func handleIQ(_ name: String, namespace: String, types: [IQType], target: IQTarget = .server,
                         _ handler: @escaping IQHandler) {
        for type in types {
            table.iqHandlers[IQHandlerKey(namespace: namespace, name: name, type: type, target: target)] = handler
        }
    }

    /// A feature the server (`.server`) or each account (`.account`) advertises in disco#info (XEP-0030).
    public func advertise(feature: String, on target: IQTarget = .server) {
        switch target {
        case .server: if !table.serverFeatures.contains(feature) { table.serverFeatures.append(feature) }
        case .account: if !table.accountFeatures.contains(feature) { table.accountFeatures.append(feature) }
        }
    }

    public func advertise(identity: DiscoIdentity) { table.serverIdentities.append(identity) }
    /// A XEP-0128 data form added to the server's disco#info.
    public func advertise(extendedInfo form: XElement) { table.serverExtensions.append(form) }
    /// A stream feature offered to clients after authentication (e.g. roster versioning).
    public func offer(streamFeature: XElement) { table.streamFeatures.append(streamFeature) }

    /// A hook on what local clients send. `immediate`, when given, decides the same way without
    /// suspending, or answers `.suspend` (see `ImmediateHookResult`).
    public func onOutbound(priority: Int = 0, immediate: ImmediateOutboundHook? = nil, _ hook: @escaping OutboundHook) {
        table.outbound.insert(RoutingHook(hook: hook, immediate: immediate), priority: priority)
    }
    /// An outbound hook that never suspends.
    public func onOutbound(priority: Int = 0, synchronous hook: @escaping @Sendable (inout OutboundStanza) -> HookResult) {
        onOutbound(priority: priority, immediate: { ImmediateHookResult(hook(&$0)) }) { hook(&$0) }
    }
    /// A hook on what is addressed to a local account or the server; `immediate` as for `onOutbound`.
    public func onInbound(priority: Int = 0, immediate: ImmediateInboundHook? = nil, _ hook: @escaping InboundHook) {
        table.inbound.insert(RoutingHook(hook: hook, immediate: immediate), priority: priority)
    }
    /// An inbound hook that never suspends.
    public func onInbound(priority: Int = 0, synchronous hook: @escaping @Sendable (inout InboundStanza) -> HookResult) {
        onInbound(priority: priority, immediate: { ImmediateHookResult(hook(&$0)) }) { hook(&$0) }
    }
    public func onUndeliverableMessage(priority: Int = 0, _ hook: @escaping UndeliverableMessageHook) { table.undeliverable.insert(hook, priority: priority) }
    public func onDeliveredMessage(priority: Int = 0, immediate: ImmediateDeliveredMessageHook? = nil, _ hook: @escaping DeliveredMessageHook) {
        table.delivered.insert((hook, immediate), priority: priority)
    }
    /// A delivered-message hook that never suspends.
    public func onDeliveredMessage(priority: Int = 0, synchronous hook: @escaping @Sendable (InboundStanza, [LocalSession]) -> Void) {
        onDeliveredMessage(priority: priority, immediate: { hook($0, $1); return true }) { hook($0, $1) }
    }
    public func filterDelivery(_ filter: @escaping DeliveryFilter) { table.deliveryFilters.append(filter) }
    public func onSessionBound(priority: Int = 0, _ hook: @escaping SessionHook) { table.sessionBound.insert(hook, priority: priority) }
    /// The session became a delivery target: it sent initial presence (RFC 6121 §4.2), or raised its
    /// priority from negative to non-negative (XEP-0160 §2). Announced by the presence module.
    public func onSessionAvailable(priority: Int = 0, _ hook: @escaping SessionHook) { table.sessionAvailable.insert(hook, priority: priority) }
    public func onSessionClosed(priority: Int = 0, _ hook: @escaping SessionHook) { table.sessionClosed.insert(hook, priority: priority) }
    public func onAccountDeleted(_ hook: @escaping AccountHook) { table.accountDeleted.append(hook) }
}
