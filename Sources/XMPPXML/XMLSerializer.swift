/// Writes elements as XML text with correct escaping and namespace declarations.
///
/// Inside an XMPP stream, stanzas inherit the stream's content namespace, and `jabber:client`
/// and `jabber:server` are treated as the same for that purpose, so a stanza routed from one kind
/// of stream to another is written without a stray `xmlns` (RFC 6120 §4.8.3).
public struct XMLSerializer: Sendable {
    /// Namespaces bound to prefixes by the enclosing stream header (e.g. streams → "stream").
    public var declaredPrefixes: [String: String] {
        didSet { prefixes = declaredPrefixes.map { ($0.key, $0.value) } }
    }
    /// The same pairs as a list: there are one or two, and scanning them beats hashing every
    /// element's namespace twice on the path of each routed stanza.
    private var prefixes: [(namespace: String, prefix: String)]

    public init(declaredPrefixes: [String: String] = [XMLNamespace.streams: "stream"]) {
        self.declaredPrefixes = declaredPrefixes
        prefixes = declaredPrefixes.map { ($0.key, $0.value) }
    }

    private func prefix(for namespace: String) -> String? {
        for pair in prefixes where pair.namespace == namespace { return pair.prefix }
        return nil
    }

    /// Serialises `element` as a child of a parent whose default namespace is `inheritedNamespace`.
    public func serialize(_ element: XElement, inheritedNamespace: String) -> String {
        var output = ""
        output.reserveCapacity(256)
        write(element, inheritedNamespace: inheritedNamespace, into: &output)
        return output
    }

    public func write(_ element: XElement, inheritedNamespace: String, into output: inout String) {
        var generatedPrefixCount = 0
        write(element, inheritedNamespace: inheritedNamespace, into: &output, generatedPrefixCount: &generatedPrefixCount)
    }

    private func write(_ element: XElement, inheritedNamespace: String, into output: inout String, generatedPrefixCount: inout Int) {
        output += "<"
        var childNamespace = inheritedNamespace
        if let prefix = prefix(for: element.namespace) {
            output += prefix
            output += ":"
            output += element.name
        } else {
            output += element.name
            if !Self.sameContentNamespace(element.namespace, inheritedNamespace) {
                output += " xmlns='"
                XMLEscaping.appendEscaped(element.namespace, to: &output)
                output += "'"
            }
            childNamespace = element.namespace
        }
        for attribute in element.attributes {
            output += " "
            if attribute.namespace.isEmpty {
                output += attribute.name
            } else if attribute.namespace == XMLNamespace.xml {
                output += "xml:"
                output += attribute.name
            } else if let prefix = prefix(for: attribute.namespace) {
                output += prefix
                output += ":"
                output += attribute.name
            } else {
                generatedPrefixCount += 1
                let prefix = "ns\(generatedPrefixCount)"
                output += "xmlns:\(prefix)='"
                XMLEscaping.appendEscaped(attribute.namespace, to: &output)
                output += "' \(prefix):"
                output += attribute.name
            }
            output += "='"
            XMLEscaping.appendEscaped(attribute.value, to: &output, attribute: true)
            output += "'"
        }
        if element.children.isEmpty {
            output += "/>"
            return
        }
        output += ">"
        for child in element.children {
            switch child {
            case .text(let text):
                XMLEscaping.appendEscaped(text, to: &output, attribute: false)
            case .element(let childElement):
                write(childElement, inheritedNamespace: childNamespace, into: &output, generatedPrefixCount: &generatedPrefixCount)
            }
        }
        output += "</"
        if let prefix = prefix(for: element.namespace) {
            output += prefix
            output += ":"
        }
        output += element.name
        output += ">"
    }

    static func sameContentNamespace(_ a: String, _ b: String) -> Bool {
        a == b || (isStanzaNamespace(a) && isStanzaNamespace(b))
    }

    static func isStanzaNamespace(_ namespace: String) -> Bool {
        namespace == "jabber:client" || namespace == "jabber:server"
    }
}

public enum XMLEscaping {
    /// Escapes the five XML special characters, and the white space a parser would otherwise
    /// normalise: CR everywhere, TAB and LF inside attribute values (XML 1.0 §2.11, §3.3.3).
    /// Valid for text and for single- or double-quoted attributes.
    public static func appendEscaped(_ string: String, to output: inout String, attribute: Bool = true) {
        var needsEscaping = false
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "\""), 0x0D:
                needsEscaping = true
            case 0x09, 0x0A:
                needsEscaping = needsEscaping || attribute
            default:
                continue
            }
            if needsEscaping { break }
        }
        guard needsEscaping else {
            output += string
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "&": output += "&amp;"
            case "'": output += "&apos;"
            case "\"": output += "&quot;"
            case "\r": output += "&#xD;"
            case "\t" where attribute: output += "&#x9;"
            case "\n" where attribute: output += "&#xA;"
            default: output.unicodeScalars.append(scalar)
            }
        }
    }

    public static func escaped(_ string: String) -> String {
        var output = ""
        appendEscaped(string, to: &output)
        return output
    }
}
