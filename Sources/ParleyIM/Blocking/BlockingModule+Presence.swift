import ParleyKernel
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// XEP-0191 §3.3 and §3.4: what the user's contacts see of the user when a block starts or ends.
extension BlockingModule {
    /// §3.3: the newly blocked JIDs see each available resource of the user go unavailable. Sent to
    /// each blocked user JID (an unavailable presence reveals nothing) and to every JID a resource
    /// sent directed presence to (RFC 6121 §4.6) that the block covers, which is how blocked domains
    /// are reached. (`filterInbound` lets unavailable presence through; other presence the server
    /// broadcasts for the user to these JIDs is dropped from now on.)
    func announceBlocked(_ jids: [JID], by user: JID, kernel: Kernel) async {
        let blocked = BlockedJIDs(jids)
        let named = jids.filter { $0.localpart != nil && !Self.isExempt($0, for: user) }
        for session in kernel.availableSessions(of: user) {
            var targets = Set(named)
            for recipient in session.state.directedPresence where blocked.blocks(recipient) && !Self.isExempt(recipient, for: user) {
                targets.insert(recipient)
            }
            for target in targets.sorted(by: { $0.description < $1.description }) {
                let presence = XElement("presence", namespace: NS.client,
                                        ["from": session.jid.description, "to": target.description, "type": "unavailable"])
                await kernel.dispatch(Stanza(presence)!)
            }
        }
    }

    /// §3.4: the unblocked JIDs get the user's current presence, but only where they are allowed to
    /// see it. Each available resource's presence is announced again as its client would send it
    /// (RFC 6121 §4.4.2), so the presence module broadcasts it to exactly the subscribers allowed
    /// to see it, the unblocked ones among them; JIDs the resource sent directed presence to and
    /// that the list covered get it directly (RFC 6121 §4.6).
    func announceUnblocked(_ jids: [JID], by user: JID, kernel: Kernel) async {
        guard !jids.isEmpty else { return }
        let unblocked = BlockedJIDs(jids)
        for session in kernel.availableSessions(of: user) {
            let state = session.state
            guard var presence = state.availablePresence else { continue }
            presence[attribute: "to"] = nil
            presence[attribute: "from"] = session.jid.description
            for recipient in state.directedPresence.sorted(by: { $0.description < $1.description })
            where unblocked.blocks(recipient) && !Self.isExempt(recipient, for: user) {
                var directed = presence
                directed[attribute: "to"] = recipient.description
                await kernel.dispatch(Stanza(directed)!)
            }
            if let broadcast = Stanza(presence) { await kernel.route(broadcast, from: session) }
        }
    }
}
