import Foundation
import ParleyKernel
import XMPPProtocol
import XMPPXML

/// Software version (XEP-0092) of the server, answered to IQs addressed to its domain.
public struct SoftwareVersionModule: Module {
    public static let namespace = "jabber:iq:version"
    /// This build's version.
    public static let parleyVersion = "0.1.0"
    public let name = "software-version"
    public let softwareName: String
    public let version: String
    /// Reported only when set: the operating system helps attackers more than users (XEP-0092 §5),
    /// so, as in Prosody, it is hidden unless the operator opts in.
    public let operatingSystem: String?

    public init(softwareName: String = "Parley", version: String = SoftwareVersionModule.parleyVersion,
                operatingSystem: String? = nil) {
        self.softwareName = softwareName
        self.version = version
        self.operatingSystem = operatingSystem
    }

    /// The host's operating system, for `operatingSystem` when the operator chooses to show it.
    public static var hostOperatingSystem: String {
        ProcessInfo.processInfo.operatingSystemVersionString
    }

    public func register(in registrar: ModuleRegistrar) {
        registrar.advertise(feature: Self.namespace)
        let answer = reply()
        registrar.handleIQ("query", namespace: Self.namespace, types: [.get], target: .server) { _ in .success(answer) }
    }

    /// `<query xmlns='jabber:iq:version'>` with name and version (REQUIRED) and os (OPTIONAL), XEP-0092 §2.
    func reply() -> XElement {
        var query = XElement("query", namespace: Self.namespace)
        for (name, value) in [("name", softwareName), ("version", version), ("os", operatingSystem)] {
            guard let value else { continue }
            var element = XElement(name, namespace: Self.namespace)
            element.append(text: value)
            query.append(element)
        }
        return query
    }
}
