import XMPPAddress
import XMPPProtocol
import XMPPXML

/// A session's transport as the kernel sees it: something to deliver stanzas to.
///
/// Implementations queue without blocking; each enforces a bounded outbound queue.
public protocol SessionHandle: AnyObject, Sendable {
    /// Queues a stanza for the client. Never blocks; overflow is the session's to handle.
    func deliver(_ element: XElement)
    /// Ends the session's stream with an error (e.g. `conflict` when replaced, `system-shutdown`).
    func terminate(_ error: StreamError)
}
