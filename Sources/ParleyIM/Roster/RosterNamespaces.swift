/// The namespaces of RFC 6121 rosters and their stream features.
public enum RosterNamespaces {
    /// RFC 6121 §2.1.
    public static let roster = "jabber:iq:roster"
    /// RFC 6121 §2.6.1: roster versioning stream feature.
    public static let versioning = "urn:xmpp:features:rosterver"
    /// RFC 6121 §3.4.1: subscription pre-approval stream feature.
    public static let preApproval = "urn:xmpp:features:pre-approval"
}
