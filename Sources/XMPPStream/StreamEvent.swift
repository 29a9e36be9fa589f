import XMPPProtocol
import XMPPXML

/// What every transport (TCP, direct TLS, WebSocket, BOSH) turns its bytes into.
public enum StreamEvent: Sendable, Hashable {
    case open(StreamHeader)
    case element(XElement)
    case close
}

/// A stream header, received or to be sent (RFC 6120 §4.7).
public struct StreamHeader: Sendable, Hashable {
    public var to: String?
    public var from: String?
    public var id: String?
    /// `nil` when the attribute is absent.
    public var version: String?
    public var language: String?
    /// The default namespace declared on the root (`jabber:client`, `jabber:server`, …).
    public var contentNamespace: String
    /// False when the root is not `<stream>` in the streams namespace (RFC 6120 §4.8.1 → `invalid-namespace`).
    public var streamNamespaceValid: Bool
    /// Whether the header declares the dialback namespace (`xmlns:db`, XEP-0220 §2.1).
    public var declaresDialback: Bool = false

    public init(to: String? = nil, from: String? = nil, id: String? = nil, version: String? = "1.0", language: String? = "en",
                contentNamespace: String = NS.client, streamNamespaceValid: Bool = true) {
        self.to = to
        self.from = from
        self.id = id
        self.version = version
        self.language = language
        self.contentNamespace = contentNamespace
        self.streamNamespaceValid = streamNamespaceValid
    }

    /// Builds the header from the parser's view of the TCP stream root.
    public init(name: String, namespace: String, attributes: [XAttribute], namespaceDeclarations: [NamespaceDeclaration]) {
        func attribute(_ key: String) -> String? {
            attributes.first { $0.name == key && $0.namespace.isEmpty }?.value
        }
        self.init(
            to: attribute("to"), from: attribute("from"), id: attribute("id"), version: attribute("version"),
            language: attributes.first { $0.name == "lang" && $0.namespace == XMLNamespace.xml }?.value,
            contentNamespace: namespaceDeclarations.last { $0.prefix.isEmpty }?.uri ?? "",
            streamNamespaceValid: name == "stream" && namespace == NS.streams)
        declaresDialback = namespaceDeclarations.contains { $0.prefix == "db" && $0.uri == NS.dialback }
    }

    /// The opening tag as sent on a TCP stream: `<?xml …?><stream:stream …>` (RFC 6120 §4.7).
    public func openingTag() -> String {
        var tag = "<?xml version='1.0'?><stream:stream xmlns='"
        tag += contentNamespace
        tag += "' xmlns:stream='http://etherx.jabber.org/streams'"
        if declaresDialback { tag += " xmlns:db='jabber:server:dialback'" }
        for (key, value) in [("id", id), ("from", from), ("to", to), ("version", version), ("xml:lang", language)] {
            guard let value else { continue }
            tag += " \(key)='"
            XMLEscaping.appendEscaped(value, to: &tag)
            tag += "'"
        }
        tag += ">"
        return tag
    }

    public static let closingTag = "</stream:stream>"
}

extension StreamEvent {
    /// Maps the TCP parser's events (one stream root wrapping everything) onto stream events.
    public init(_ event: XMLStreamEvent) {
        switch event {
        case .streamStart(let name, let namespace, let attributes, let declarations):
            self = .open(StreamHeader(name: name, namespace: namespace, attributes: attributes, namespaceDeclarations: declarations))
        case .element(let element):
            self = .element(element)
        case .streamEnd:
            self = .close
        }
    }
}
