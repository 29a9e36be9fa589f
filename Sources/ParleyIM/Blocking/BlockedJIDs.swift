import XMPPAddress

/// A user's blocklist, ready for matching (XEP-0191 §6, the XEP-0016 order):
/// `user@domain/resource` and `domain/resource` match only themselves, `user@domain` matches any
/// of its resources, and `domain` matches itself and every address at that domain.
struct BlockedJIDs: Sendable {
    let jids: Set<JID>
    private let domains: Set<String>

    init<S: Sequence>(_ jids: S) where S.Element == JID {
        self.jids = Set(jids)
        self.domains = Set(self.jids.lazy.filter { $0.localpart == nil && $0.resourcepart == nil }.map(\.domainpart))
    }

    var isEmpty: Bool { jids.isEmpty }

    func blocks(_ jid: JID) -> Bool {
        if jids.isEmpty { return false }
        if domains.contains(jid.domainpart) || jids.contains(jid) { return true }
        return jid.localpart != nil && jid.resourcepart != nil && jids.contains(jid.bare)
    }
}
