import ParleyKernel
import XMPPAddress
import XMPPProtocol
import XMPPXML

extension BlockingModule {
    /// Stanzas addressed to a local account or server, before anything delivers or stores them.
    func filterInbound(_ inbound: InboundStanza, kernel: Kernel) async -> HookResult {
        // The addressee blocked the sender: XEP-0191 §3.3.
        if inbound.to.localpart != nil, await isBlocked(inbound.from, by: inbound.to.bare, kernel: kernel) {
            refuseFromBlocked(inbound, kernel: kernel)
            return .handled
        }
        if Self.isRoutedOnBehalf(inbound, kernel: kernel), await isBlocked(inbound.to, by: inbound.from.bare, kernel: kernel) {
            return .handled
        }
        return .pass
    }

    /// `filterInbound` when every list it needs is known without reading the store.
    func filterInboundImmediately(_ inbound: InboundStanza, kernel: Kernel) -> ImmediateHookResult {
        if inbound.to.localpart != nil {
            guard let blocked = knownBlocked(inbound.from, by: inbound.to.bare) else { return .suspend }
            if blocked {
                refuseFromBlocked(inbound, kernel: kernel)
                return .handled
            }
        }
        if Self.isRoutedOnBehalf(inbound, kernel: kernel) {
            guard let blocked = knownBlocked(inbound.to, by: inbound.from.bare) else { return .suspend }
            if blocked { return .handled }
        }
        return .pass
    }

    /// The answer to a stanza from a JID the addressee blocked (the stanza itself goes no further).
    private func refuseFromBlocked(_ inbound: InboundStanza, kernel: Kernel) {
        let stanza = inbound.stanza
        switch stanza.kind {
        case .presence:
            // Including subscriptions and probes: no answer, no error.
            break
        case .message:
            // SHOULD be service-unavailable; `bounce` never answers an error.
            kernel.bounce(stanza, StanzaError(.serviceUnavailable))
        case .iq:
            // get/set MUST get an error (service-unavailable); results and errors are dropped.
            if stanza.type == "get" || stanza.type == "set" { kernel.bounce(stanza, StanzaError(.serviceUnavailable)) }
        }
    }

    /// A local user's stanza the server routes on the user's behalf, which is dropped when it goes to
    /// a JID the user blocked (what clients send themselves was refused by `filterOutbound`).
    /// Unavailable presence still goes: it is what blocking announces (§3.3).
    private static func isRoutedOnBehalf(_ inbound: InboundStanza, kernel: Kernel) -> Bool {
        inbound.from.localpart != nil && kernel.isLocal(inbound.from)
            && !(inbound.stanza.kind == .presence && inbound.stanza.type == "unavailable")
    }

    /// Stanzas a client sends: XEP-0191 §3.3, not routed to a blocked JID.
    func filterOutbound(_ outbound: OutboundStanza, kernel: Kernel) async -> HookResult {
        guard await isBlocked(outbound.to, by: outbound.session.jid.bare, kernel: kernel) else { return .pass }
        refuseToBlocked(outbound)
        return .handled
    }

    /// `filterOutbound` when the sender's list is known without reading the store.
    func filterOutboundImmediately(_ outbound: OutboundStanza) -> ImmediateHookResult {
        guard let blocked = knownBlocked(outbound.to, by: outbound.session.jid.bare) else { return .suspend }
        guard blocked else { return .pass }
        refuseToBlocked(outbound)
        return .handled
    }

    /// The answer to a client's stanza to a JID its user blocked (the stanza itself goes no further).
    private func refuseToBlocked(_ outbound: OutboundStanza) {
        let stanza = outbound.stanza
        // Errors and IQ results are never answered with an error (RFC 6120 §8.3.1); they just stop here.
        if stanza.isError || (stanza.kind == .iq && stanza.type == "result") { return }
        // Straight to the client: the reply comes from the blocked JID, which delivery filters would refuse.
        outbound.session.send(Self.blockedError(for: stanza, blocked: outbound.to))
    }

    /// `not-acceptable` with the application condition `<blocked/>`; type cancel as in XEP-0191 §3.3.
    static func blockedError(for stanza: Stanza, blocked: JID) -> XElement {
        var reply = stanza.errorReply(StanzaError(.notAcceptable, type: .cancel), from: stanza.toString ?? blocked.description)
        if let index = reply.children.lastIndex(where: { if case .element(let child) = $0 { child.name == "error" } else { false } }),
           case .element(var error) = reply.children[index] {
            error.append(XElement("blocked", namespace: errorsNamespace))
            reply.children[index] = .element(error)
        }
        return reply
    }

    /// Stanzas handed to a session directly (not routed), e.g. contacts' presence sent at login:
    /// refused when from a JID the session's user blocked. Uses only the cache (no I/O here).
    func mayDeliver(_ stanza: Stanza, to session: LocalSession) -> Bool {
        let user = session.jid.bare
        guard !owners.certainlyHasNoList(user), let fromString = stanza.fromString, let list = cache.list(of: user), !list.isEmpty,
              let from = try? JID(fromString), !Self.isExempt(from, for: user) else { return true }
        return !list.blocks(from)
    }
}
