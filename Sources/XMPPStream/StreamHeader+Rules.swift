import XMPPProtocol
import XMPPSASL
import XMPPXML

extension StreamHeader {
    /// RFC 6120 §4.7.5: Parley speaks XMPP 1.0; a header without `version` means 0.9, which is refused.
    public var speaksXMPP1: Bool {
        guard let version, let major = version.split(separator: ".", maxSplits: 1).first.flatMap({ Int($0) }) else { return false }
        return major >= 1
    }
}

extension SASLFailure {
    /// `<failure xmlns='…xmpp-sasl'><condition/><text/></failure>` (RFC 6120 §6.4.5).
    public func element(text: String? = nil) -> XElement {
        var failure = XElement("failure", namespace: NS.sasl)
        failure.append(XElement(rawValue, namespace: NS.sasl))
        if let text {
            failure.append(XElement("text", namespace: NS.sasl, children: [.text(text)]))
        }
        return failure
    }
}
