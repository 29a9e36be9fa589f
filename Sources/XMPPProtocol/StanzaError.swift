import XMPPXML

/// Stanza error conditions (RFC 6120 §8.3.3) with their default error types (§8.3.2).
public enum StanzaErrorCondition: String, Sendable, Hashable, CaseIterable {
    case badRequest = "bad-request"
    case conflict
    case featureNotImplemented = "feature-not-implemented"
    case forbidden
    case gone
    case internalServerError = "internal-server-error"
    case itemNotFound = "item-not-found"
    case jidMalformed = "jid-malformed"
    case notAcceptable = "not-acceptable"
    case notAllowed = "not-allowed"
    case notAuthorized = "not-authorized"
    case policyViolation = "policy-violation"
    case recipientUnavailable = "recipient-unavailable"
    case redirect
    case registrationRequired = "registration-required"
    case remoteServerNotFound = "remote-server-not-found"
    case remoteServerTimeout = "remote-server-timeout"
    case resourceConstraint = "resource-constraint"
    case serviceUnavailable = "service-unavailable"
    case subscriptionRequired = "subscription-required"
    case undefinedCondition = "undefined-condition"
    case unexpectedRequest = "unexpected-request"

    public var defaultType: StanzaErrorType {
        switch self {
        case .badRequest, .jidMalformed, .notAcceptable, .policyViolation: .modify
        case .conflict, .featureNotImplemented, .forbidden, .notAllowed, .notAuthorized,
             .registrationRequired, .subscriptionRequired: .auth
        case .gone, .itemNotFound, .redirect, .remoteServerNotFound, .serviceUnavailable: .cancel
        case .internalServerError, .recipientUnavailable, .remoteServerTimeout, .resourceConstraint, .unexpectedRequest: .wait
        case .undefinedCondition: .cancel
        }
    }
}

public enum StanzaErrorType: String, Sendable, Hashable {
    case auth, cancel, `continue`, modify, wait
}

public struct StanzaError: Error, Sendable, Hashable {
    public var condition: StanzaErrorCondition
    public var type: StanzaErrorType
    public var text: String?
    /// The entity that generated the error (RFC 6120 §8.3.2 `by`).
    public var by: String?

    public init(_ condition: StanzaErrorCondition, type: StanzaErrorType? = nil, text: String? = nil, by: String? = nil) {
        self.condition = condition
        self.type = type ?? condition.defaultType
        self.text = text
        self.by = by
    }

    public var element: XElement {
        var error = XElement("error", namespace: NS.client)
        error[attribute: "type"] = type.rawValue
        if let by { error[attribute: "by"] = by }
        error.append(XElement(condition.rawValue, namespace: NS.stanzaErrors))
        if let text {
            var textElement = XElement("text", namespace: NS.stanzaErrors)
            textElement.append(text: text)
            error.append(textElement)
        }
        return error
    }
}
