import XMPPXML

/// A feature (usually one XEP). Modules register what they serve and never import each other.
public protocol Module: Sendable {
    var name: String { get }
    func register(in registrar: ModuleRegistrar)
}

/// What a module can register during start-up. Registration happens before the server serves anyone.
public final class ModuleRegistrar {
    var iqHandlers: [IQHandlerKey: IQHandler] = [:]
    var serverFeatures: [String] = []
    var accountFeatures: [String] = []

    init() {}

    /// Serves IQs whose payload is `<name xmlns=namespace/>` of the given type.
    public func handleIQ(_ name: String, namespace: String, types: [IQType], target: IQTarget = .server,
                         _ handler: @escaping IQHandler) {
        for type in types {
            iqHandlers[IQHandlerKey(namespace: namespace, name: name, type: type, target: target)] = handler
        }
    }

    /// A feature var the server advertises in service discovery (XEP-0030).
    public func advertise(serverFeature: String) { serverFeatures.append(serverFeature) }
    public func advertise(accountFeature: String) { accountFeatures.append(accountFeature) }
}
