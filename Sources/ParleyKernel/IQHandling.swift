import XMPPAddress
import XMPPProtocol
import XMPPXML

/// An IQ get/set addressed to something a module serves.
public struct IQRequest: Sendable {
    public var stanza: Stanza
    public var from: JID
    /// The addressee; the server's own domain for IQs to the server, the bare JID for IQs to an account.
    public var to: JID
    public var payload: XElement
    public var isSet: Bool { stanza.type == "set" }
}

/// The answer to an IQ: a payload for the result (nil: an empty result) or a stanza error.
public typealias IQHandler = @Sendable (IQRequest) async -> Result<XElement?, StanzaError>

/// Where a handler applies: IQs to the server's domain, or to a user's bare JID (handled on the user's behalf).
public enum IQTarget: Sendable, Hashable {
    case server
    case account
}

public enum IQType: String, Sendable, Hashable {
    case get, set
}

struct IQHandlerKey: Hashable {
    var namespace: String
    var name: String
    var type: IQType
    var target: IQTarget
}
