import ParleyKernel
import XMPPProtocol
import XMPPXML

/// Contact addresses for XMPP services (XEP-0157): a `http://jabber.org/network/serverinfo` form
/// (XEP-0128) in the server's disco#info, listing who to contact about abuse, security and so on.
public struct ContactAddressesModule: Module {
    public static let formType = "http://jabber.org/network/serverinfo"
    /// The fields registered for that form (XEP-0157 §5.1).
    public static let registeredFields: Set<String> = [
        "abuse-addresses", "admin-addresses", "feedback-addresses", "sales-addresses",
        "security-addresses", "status-addresses", "support-addresses",
    ]

    public enum ConfigurationError: Error, Equatable, Sendable {
        /// A field name not registered for the form.
        case unknownField(String)
        /// A status address that is not a URI (XEP-0157 §3 MUST).
        case notAURI(field: String, value: String)
    }

    public let name = "contact-addresses"
    /// Field name → addresses (URIs such as `mailto:…`, `xmpp:…`, `https://…`), empty lists dropped.
    public let addresses: [String: [String]]

    /// Throws for an unregistered field or a status address that is not a URI.
    public init(addresses: [String: [String]]) throws(ConfigurationError) {
        for (field, values) in addresses {
            guard Self.registeredFields.contains(field) else { throw .unknownField(field) }
            // §3: status-addresses MUST be URIs; the others SHOULD be, so they are taken as given.
            if field == "status-addresses", let bad = values.first(where: { !Self.looksLikeURI($0) }) {
                throw .notAURI(field: field, value: bad)
            }
        }
        self.addresses = addresses.filter { !$0.value.isEmpty }
    }

    public func register(in registrar: ModuleRegistrar) {
        // Nothing to announce: no form at all rather than an empty one.
        guard !addresses.isEmpty else { return }
        registrar.advertise(extendedInfo: form())
    }

    /// The XEP-0128 form: hidden FORM_TYPE, then one list-multi field per kind of address, sorted.
    func form() -> XElement {
        let ns = ServiceDiscoveryInfo.dataFormsNamespace
        var form = XElement("x", namespace: ns, ["type": "result"])
        form.append(Self.field("FORM_TYPE", type: "hidden", values: [Self.formType]))
        for field in addresses.keys.sorted() {
            form.append(Self.field(field, type: "list-multi", values: addresses[field] ?? []))
        }
        return form
    }

    private static func field(_ name: String, type: String, values: [String]) -> XElement {
        let ns = ServiceDiscoveryInfo.dataFormsNamespace
        var field = XElement("field", namespace: ns, ["var": name, "type": type])
        for value in values {
            var element = XElement("value", namespace: ns)
            element.append(text: value)
            field.append(element)
        }
        return field
    }

    /// RFC 3986 §3: a scheme (a letter, then letters, digits, "+", "-", "."), a colon, and no whitespace.
    static func looksLikeURI(_ value: String) -> Bool {
        guard let colon = value.firstIndex(of: ":"), colon != value.startIndex,
              value.index(after: colon) != value.endIndex else { return false }
        let scheme = value[..<colon]
        guard let first = scheme.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else { return false }
        let schemeOK = scheme.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "+" || $0 == "-" || $0 == ".")
        }
        return schemeOK && !value.unicodeScalars.contains { $0.properties.isWhitespace }
    }
}
