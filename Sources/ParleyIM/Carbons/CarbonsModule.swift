import ParleyKernel
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// XEP-0280 Message Carbons: copies of a user's sent and received messages to the user's other
/// clients that enabled carbons.
///
/// Messages between two resources of the same account are copied on the receiving side only (one
/// `<received/>` copy per other enabled client, the sending client excluded), so no client gets
/// the same message twice.
public struct CarbonsModule: Module {
    public static let namespace = "urn:xmpp:carbons:2"
    public static let forwardNamespace = "urn:xmpp:forward:0"
    /// The session flag a client's `<enable/>` sets.
    public static let flag = "carbons"
    /// Sent copies are made last among outbound hooks, from the message as it will be routed; a
    /// stanza another hook refused (blocking) is never copied.
    public static let outboundPriority = -1000
    public let name = "carbons"

    public init() {}

    public func register(in registrar: ModuleRegistrar) {
        let kernel = registrar.kernel
        registrar.advertise(feature: Self.namespace)
        registrar.handleIQ("enable", namespace: Self.namespace, types: [.set], target: .account) { request in
            Self.setEnabled(true, request, kernel: kernel)
        }
        registrar.handleIQ("disable", namespace: Self.namespace, types: [.set], target: .account) { request in
            Self.setEnabled(false, request, kernel: kernel)
        }
        registrar.onDeliveredMessage(synchronous: { inbound, delivered in
            Self.copyReceived(inbound, deliveredTo: delivered, kernel: kernel)
        })
        registrar.onOutbound(priority: Self.outboundPriority, synchronous: { outbound in
            Self.copySent(outbound, kernel: kernel)
            return .pass
        })
    }

    /// XEP-0280 §4, §5: the flag is per session; repeating an enable or disable is not an error (§10.1).
    private static func setEnabled(_ enabled: Bool, _ request: IQRequest, kernel: Kernel) -> Result<XElement?, StanzaError> {
        // §4.1, §5.1: only the account's own clients may switch carbons (for themselves).
        guard request.to == request.from.bare, let session = kernel.sessions.session(for: request.from) else {
            return .failure(StanzaError(.notAllowed))
        }
        session.update { state in
            if enabled { state.flags.insert(flag) } else { state.flags.remove(flag) }
        }
        return .success(nil)
    }

    /// XEP-0280 §7: a copy for each enabled client of the addressee that did not get the message.
    private static func copyReceived(_ inbound: InboundStanza, deliveredTo delivered: [LocalSession], kernel: Kernel) {
        guard inbound.to.localpart != nil else { return }
        let user = inbound.to.bare
        // Checked first: most messages reach users with no other enabled client.
        let recipients = kernel.sessions.sessions(for: user).filter { session in
            session.has(flag: flag) && session.jid != inbound.from && !delivered.contains { $0 === session }
        }
        guard !recipients.isEmpty else { return }
        let message = inbound.stanza.element
        guard CarbonsEligibility.isEligible(message, direction: .received, fromFullJID: inbound.from.resourcepart != nil) else { return }
        for session in recipients {
            kernel.deliver(wrap(message, in: "received", user: user, for: session.jid), to: session)
        }
    }

    /// XEP-0280 §8: a copy for each enabled client of the sender other than the sending one,
    /// whether or not the sending client enabled carbons.
    private static func copySent(_ outbound: OutboundStanza, kernel: Kernel) {
        guard outbound.stanza.kind == .message else { return }
        let sender = outbound.session.jid
        let user = sender.bare
        // Messages to the user's own account are copied when they are received (see the type's notes).
        guard outbound.to.bare != user else { return }
        let recipients = kernel.sessions.sessions(for: user).filter { $0.jid != sender && $0.has(flag: flag) }
        guard !recipients.isEmpty else { return }
        let message = outbound.stanza.element
        guard CarbonsEligibility.isEligible(message, direction: .sent, fromFullJID: true) else { return }
        for session in recipients {
            kernel.deliver(wrap(message, in: "sent", user: user, for: session.jid), to: session)
        }
    }

    /// XEP-0280 §7, §8: from the user's bare JID, to the copy's client, the original's type kept,
    /// the original inside `<forwarded/>` (XEP-0297).
    static func wrap(_ message: XElement, in direction: String, user: JID, for client: JID) -> XElement {
        var copy = XElement("message", namespace: NS.client, ["from": user.description, "to": client.description])
        if let type = message[attribute: "type"] { copy[attribute: "type"] = type }
        // XEP-0297 §3.2: the forwarded stanza keeps an explicit stanza namespace; one that arrived over
        // s2s ('jabber:server') is given as 'jabber:client', the namespace of the client's stream.
        let forwarded = XElement("forwarded", namespace: forwardNamespace, children: [.element(clientNamespaced(message))])
        copy.append(XElement(direction, namespace: namespace, children: [.element(forwarded)]))
        return copy
    }

    private static func clientNamespaced(_ element: XElement) -> XElement {
        var element = element
        if element.namespace == NS.server { element.namespace = NS.client }
        element.children = element.children.map { node in
            if case .element(let child) = node { .element(clientNamespaced(child)) } else { node }
        }
        return element
    }
}
