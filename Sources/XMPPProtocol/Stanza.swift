import XMPPAddress
import XMPPXML

public enum StanzaKind: String, Sendable, Hashable {
    case message, presence, iq
}

/// A view on a stanza element: its kind, addressing and type (RFC 6120 §8.1).
public struct Stanza: Sendable, Hashable {
    public var element: XElement
    public let kind: StanzaKind

    /// Returns nil for elements that are not stanzas in a stanza namespace.
    public init?(_ element: XElement) {
        guard element.namespace == NS.client || element.namespace == NS.server,
              let kind = StanzaKind(rawValue: element.name) else { return nil }
        self.element = element
        self.kind = kind
    }

    public var id: String? { element[attribute: "id"] }
    public var type: String? { element[attribute: "type"] }
    public var toString: String? { element[attribute: "to"] }
    public var fromString: String? { element[attribute: "from"] }

    public var isError: Bool { type == "error" }

    /// The error reply to this stanza (RFC 6120 §8.3.1): addresses swapped, original payload kept for
    /// non-IQ stanzas, `type='error'`. Never call this for a stanza that is itself an error (§8.3.1 rule 4).
    public func errorReply(_ error: StanzaError, from: String? = nil) -> XElement {
        var reply = XElement(element.name, namespace: element.namespace)
        if let id { reply[attribute: "id"] = id }
        if let sender = from ?? toString { reply[attribute: "from"] = sender }
        if let to = fromString { reply[attribute: "to"] = to }
        reply[attribute: "type"] = "error"
        if kind != .iq {
            reply.children = element.children
        } else if let payload = element.elements.first {
            // Including the request payload is optional for IQs (§8.3.1); it helps clients correlate.
            reply.append(payload)
        }
        var errorElement = error.element
        errorElement.namespace = element.namespace
        reply.append(errorElement)
        return reply
    }

    /// `<iq type='result'/>` for an IQ get/set, with an optional payload.
    public func iqResult(payload: XElement? = nil, from: String? = nil) -> XElement {
        var reply = XElement("iq", namespace: element.namespace)
        if let id { reply[attribute: "id"] = id }
        if let sender = from ?? toString { reply[attribute: "from"] = sender }
        if let to = fromString { reply[attribute: "to"] = to }
        reply[attribute: "type"] = "result"
        if let payload { reply.append(payload) }
        return reply
    }
}
