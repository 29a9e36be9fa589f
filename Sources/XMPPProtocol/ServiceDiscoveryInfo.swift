import XMPPXML

/// A disco#info answer (XEP-0030 §3.1): identities, features and XEP-0128 extension forms.
///
/// Duplicates are dropped when it is built: XEP-0115 §5.4 treats a response with a repeated
/// identity, feature or FORM_TYPE as ill-formed.
public struct ServiceDiscoveryInfo: Sendable, Hashable {
    public static let namespace = "http://jabber.org/protocol/disco#info"
    public static let itemsNamespace = "http://jabber.org/protocol/disco#items"
    public static let dataFormsNamespace = "jabber:x:data"

    /// A disco identity (XEP-0030 §3.1); `language` is its `xml:lang`.
    public struct Identity: Sendable, Hashable {
        public var category: String
        public var type: String
        public var name: String?
        public var language: String?

        public init(category: String, type: String, name: String? = nil, language: String? = nil) {
            self.category = category
            self.type = type
            self.name = name
            self.language = language
        }
    }

    public private(set) var identities: [Identity]
    public private(set) var features: [String]
    /// `<x xmlns='jabber:x:data' type='result'/>` forms (XEP-0128), each with a hidden FORM_TYPE.
    public private(set) var forms: [XElement]

    public init(identities: [Identity], features: [String], forms: [XElement] = []) {
        // XEP-0030 §3.1: one identity per category+type+xml:lang.
        var seenIdentities = Set<[String]>()
        self.identities = identities.filter { seenIdentities.insert([$0.category, $0.type, $0.language ?? ""]).inserted }
        var seenFeatures = Set<String>()
        self.features = features.filter { seenFeatures.insert($0).inserted }
        var seenFormTypes = Set<String>()
        self.forms = forms.filter { form in
            guard let formType = Self.formType(of: form) else { return true }
            return seenFormTypes.insert(formType).inserted
        }
    }

    /// The `<query xmlns='…disco#info'/>` payload, identities and features in a stable order
    /// (XEP-0030 §3.1 mirrors `node` when the request had one).
    public func query(node: String? = nil) -> XElement {
        var query = XElement("query", namespace: Self.namespace)
        if let node { query[attribute: "node"] = node }
        let sortedIdentities = identities.sorted {
            ($0.category, $0.type, $0.language ?? "") < ($1.category, $1.type, $1.language ?? "")
        }
        for identity in sortedIdentities {
            var element = XElement("identity", namespace: Self.namespace)
            element[attribute: "category"] = identity.category
            element[attribute: "type"] = identity.type
            if let name = identity.name { element[attribute: "name"] = name }
            if let language = identity.language {
                element.attributes.append(XAttribute(name: "lang", namespace: XMLNamespace.xml, value: language))
            }
            query.append(element)
        }
        for feature in features.sorted() {
            query.append(XElement("feature", namespace: Self.namespace, ["var": feature]))
        }
        for form in forms { query.append(form) }
        return query
    }

    /// Reads a disco#info `<query/>` (a result someone sent, or one this type wrote).
    public init?(query: XElement) {
        guard query.name == "query", query.namespace == Self.namespace else { return nil }
        var identities: [Identity] = []
        var features: [String] = []
        var forms: [XElement] = []
        for child in query.elements {
            switch (child.namespace, child.name) {
            case (Self.namespace, "identity"):
                guard let category = child[attribute: "category"], let type = child[attribute: "type"] else { return nil }
                identities.append(Identity(category: category, type: type, name: child[attribute: "name"], language: child.language))
            case (Self.namespace, "feature"):
                guard let feature = child[attribute: "var"] else { return nil }
                features.append(feature)
            case (Self.dataFormsNamespace, "x"):
                forms.append(child)
            default:
                continue
            }
        }
        self.init(identities: identities, features: features, forms: forms)
    }

    /// The value of a form's hidden FORM_TYPE field (XEP-0068 §2), nil if it has none.
    public static func formType(of form: XElement) -> String? {
        guard let field = form.elements.first(where: {
            $0.name == "field" && $0.namespace == dataFormsNamespace && $0[attribute: "var"] == "FORM_TYPE"
        }), field[attribute: "type"] == "hidden" else { return nil }
        return field.child("value", namespace: dataFormsNamespace)?.text
    }
}
