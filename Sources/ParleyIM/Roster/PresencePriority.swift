import XMPPProtocol
import XMPPXML

/// The `<priority/>` of an available presence (RFC 6121 §4.7.2.3).
enum PresencePriority {
    /// An integer from -128 to +127; no element means 0. Anything else does not conform to the
    /// schema (RFC 6120 §8.3.3.1 bad-request): the presence is refused rather than guessed at.
    static func parse(_ presence: XElement) -> Result<Int, StanzaError> {
        guard let element = presence.child("priority", namespace: presence.namespace) else { return .success(0) }
        let text = element.text.trimmingWhitespace
        guard let value = Int8(text) else {
            return .failure(StanzaError(.badRequest, text: "priority must be an integer from -128 to 127"))
        }
        return .success(Int(value))
    }
}

extension String {
    /// XML Schema whitespace collapsing at the ends, as xs:byte allows (space, tab, CR, LF).
    fileprivate var trimmingWhitespace: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        var slice = Substring(self)
        while let first = slice.first, isSpace(first) { slice.removeFirst() }
        while let last = slice.last, isSpace(last) { slice.removeLast() }
        return slice
    }
}
