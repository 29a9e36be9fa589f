import XMPPAddress

extension JID {
    /// The `host` and `username` columns that key a user's rows in the per-account tables. Split
    /// from the JID the same way by every store, so a full JID keys the rows of its bare JID.
    var accountColumns: (host: String, username: String) {
        (domainpart, localpart ?? "")
    }
}
