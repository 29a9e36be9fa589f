import XMPPProtocol

/// Where stanzas for other XMPP domains go: the s2s link manager (RFC 6120 §10.4), or in a
/// cluster the node that holds the link. Implementations never block; stanzas that cannot be
/// delivered come back to the sender as errors through `Kernel.bounce`.
public protocol RemoteRouter: Sendable {
    func send(_ stanza: Stanza, to domain: String)
}
