import XMPPXML

/// Stream error conditions (RFC 6120 §4.9.3).
public enum StreamErrorCondition: String, Sendable, Hashable, CaseIterable {
    case badFormat = "bad-format"
    case badNamespacePrefix = "bad-namespace-prefix"
    case conflict
    case connectionTimeout = "connection-timeout"
    case hostGone = "host-gone"
    case hostUnknown = "host-unknown"
    case improperAddressing = "improper-addressing"
    case internalServerError = "internal-server-error"
    case invalidFrom = "invalid-from"
    case invalidNamespace = "invalid-namespace"
    case invalidXML = "invalid-xml"
    case notAuthorized = "not-authorized"
    case notWellFormed = "not-well-formed"
    case policyViolation = "policy-violation"
    case remoteConnectionFailed = "remote-connection-failed"
    case reset
    case resourceConstraint = "resource-constraint"
    case restrictedXML = "restricted-xml"
    case seeOtherHost = "see-other-host"
    case systemShutdown = "system-shutdown"
    case undefinedCondition = "undefined-condition"
    case unsupportedEncoding = "unsupported-encoding"
    case unsupportedFeature = "unsupported-feature"
    case unsupportedStanzaType = "unsupported-stanza-type"
    case unsupportedVersion = "unsupported-version"
}

/// A stream error to send before closing the stream (RFC 6120 §4.9).
public struct StreamError: Error, Sendable, Hashable {
    public var condition: StreamErrorCondition
    public var text: String?

    public init(_ condition: StreamErrorCondition, text: String? = nil) {
        self.condition = condition
        self.text = text
    }

    /// `<stream:error><condition xmlns='…streams'/><text …/></stream:error>`
    public var element: XElement {
        var error = XElement("error", namespace: NS.streams)
        error.append(XElement(condition.rawValue, namespace: NS.streamErrors))
        if let text {
            var textElement = XElement("text", namespace: NS.streamErrors)
            textElement.append(text: text)
            error.append(textElement)
        }
        return error
    }

    /// Reads a received `<stream:error/>`.
    public init?(element: XElement) {
        guard element.name == "error", element.namespace == NS.streams else { return nil }
        let condition = element.elements.lazy
            .filter { $0.namespace == NS.streamErrors && $0.name != "text" }
            .compactMap { StreamErrorCondition(rawValue: $0.name) }.first
        self.condition = condition ?? .undefinedCondition
        self.text = element.child("text", namespace: NS.streamErrors)?.text
    }
}

extension StreamError {
    /// The stream error a parser failure becomes.
    public init(_ parserError: XMLStreamError) {
        switch parserError {
        case .notWellFormed(let message): self.init(.notWellFormed, text: message)
        case .restrictedXML(let what): self.init(.restrictedXML, text: "\(what) not allowed")
        case .limitExceeded(let what): self.init(.policyViolation, text: what)
        }
    }
}
