import XMPPProtocol
import XMPPXML

/// XEP-0220 elements.
enum Dialback {
    static func result(from: String, to: String, key: String? = nil, type: String? = nil) -> XElement {
        var element = XElement("result", namespace: NS.dialback, ["from": from, "to": to])
        if let type { element[attribute: "type"] = type }
        if let key { element.append(text: key) }
        return element
    }

    static func verify(from: String, to: String, id: String, key: String? = nil, type: String? = nil) -> XElement {
        var element = XElement("verify", namespace: NS.dialback, ["from": from, "to": to, "id": id])
        if let type { element[attribute: "type"] = type }
        if let key { element.append(text: key) }
        return element
    }

    /// XEP-0220 §2.4: an error result, with a stanza error condition. XEP-0220 §2.6: the `<error/>` child is
    /// "implicitly qualified by the 'jabber:server' namespace" (written unprefixed inside `<db:result/>`).
    /// A `<db:verify/>` error carries the request's `id` (required by the XEP-0220 schema, needed for correlation).
    static func errorResult(_ name: String, from: String, to: String, id: String? = nil, condition: StanzaErrorCondition) -> XElement {
        var element = XElement(name, namespace: NS.dialback, ["from": from, "to": to])
        if let id { element[attribute: "id"] = id }
        element[attribute: "type"] = "error"
        var error = StanzaError(condition).element
        error.namespace = NS.server
        element.append(error)
        return element
    }

    /// The dialback feature with error support (XEP-0220 §2.4.3).
    static let feature = XElement("dialback", namespace: NS.dialbackFeature).appending(XElement("errors", namespace: NS.dialbackFeature))
}

/// A pair of domains a stream is authorised for: stanzas from `remote` to `local` (RFC 6120 §13.7.1.3, XEP-0220 §5).
public struct DomainPair: Sendable, Hashable {
    public var remote: String
    public var local: String
    public init(remote: String, local: String) {
        self.remote = remote
        self.local = local
    }
}
