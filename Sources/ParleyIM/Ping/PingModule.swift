import ParleyKernel

/// XEP-0199: the server answers pings addressed to itself and to its accounts' bare JIDs.
public struct PingModule: Module {
    public static let namespace = "urn:xmpp:ping"
    public let name = "ping"

    public init() {}

    public func register(in registrar: ModuleRegistrar) {
        registrar.handleIQ("ping", namespace: Self.namespace, types: [.get], target: .server) { _ in .success(nil) }
        registrar.handleIQ("ping", namespace: Self.namespace, types: [.get], target: .account) { _ in .success(nil) }
        registrar.advertise(feature: Self.namespace)
    }
}
