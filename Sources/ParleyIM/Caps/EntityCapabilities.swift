import Crypto
import Foundation
import XMPPProtocol
import XMPPXML

/// The XEP-0115 §5.1 verification string of a disco#info answer.
public enum EntityCapabilities {
    public static let namespace = "http://jabber.org/protocol/caps"
    /// The only hash this server offers; SHA-1 is mandatory to implement (XEP-0115 §10.1).
    public static let hashName = "sha-1"

    /// `ver`: base64 (with padding, no whitespace) of the SHA-1 of `verificationInput` (XEP-0115 §5.1 step 9).
    public static func verificationString(of info: ServiceDiscoveryInfo) -> String {
        let digest = Insecure.SHA1.hash(data: Array(verificationInput(of: info).utf8))
        return Data(digest).base64EncodedString()
    }

    /// The string S of XEP-0115 §5.1 before hashing. Every sort uses "i;octet" (byte order of UTF-8).
    public static func verificationInput(of info: ServiceDiscoveryInfo) -> String {
        var s = ""
        // Steps 2–3: identities by category, type, xml:lang; "category/type/lang/name<".
        let identities = info.identities.sorted { a, b in
            octetLess([a.category, a.type, a.language ?? ""], [b.category, b.type, b.language ?? ""])
        }
        for identity in identities {
            s += "\(identity.category)/\(identity.type)/\(identity.language ?? "")/\(identity.name ?? "")<"
        }
        // Steps 4–5: features.
        for feature in info.features.sorted(by: octetLess) { s += feature + "<" }
        // Steps 6–7: forms by FORM_TYPE; a form without a hidden FORM_TYPE is left out, as a
        // verifier ignores it (§5.4 step 3.6).
        let forms = info.forms.compactMap { form in ServiceDiscoveryInfo.formType(of: form).map { ($0, form) } }
            .sorted { octetLess($0.0, $1.0) }
        for (formType, form) in forms {
            s += formType + "<"
            let fields = form.elements.compactMap { field -> (String, [String])? in
                guard field.name == "field", field.namespace == ServiceDiscoveryInfo.dataFormsNamespace,
                      let name = field[attribute: "var"], name != "FORM_TYPE" else { return nil }
                let values = field.elements
                    .filter { $0.name == "value" && $0.namespace == ServiceDiscoveryInfo.dataFormsNamespace }
                    .map(\.text)
                return (name, values)
            }.sorted { octetLess($0.0, $1.0) }
            for (name, values) in fields {
                s += name + "<"
                for value in values.sorted(by: octetLess) { s += value + "<" }
            }
        }
        return s
    }

    /// RFC 4790 §9.3 "i;octet": compares the UTF-8 bytes.
    static func octetLess(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    static func octetLess(_ a: [String], _ b: [String]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return octetLess(x, y) }
        return a.count < b.count
    }
}
