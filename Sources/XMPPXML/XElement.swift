/// An XML element with resolved namespaces: a copy-on-write value (its storage is arrays and strings).
///
/// Namespaces are kept resolved (`namespace` is the URI, never a prefix); the serializer chooses
/// prefixes and declarations. `""` is "no namespace".
public struct XElement: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var attributes: [XAttribute]
    public var children: [XNode]

    public init(_ name: String, namespace: String = "", attributes: [XAttribute] = [], children: [XNode] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }

    /// Convenience: attributes given as ordered pairs of unqualified names and values.
    public init(_ name: String, namespace: String = "", _ attributes: KeyValuePairs<String, String>, children: [XNode] = []) {
        self.init(name, namespace: namespace, attributes: attributes.map { XAttribute(name: $0.key, value: $0.value) }, children: children)
    }

    /// The value of an unqualified attribute, or nil.
    public subscript(attribute name: String) -> String? {
        get {
            for attribute in attributes where attribute.name == name && attribute.namespace.isEmpty {
                return attribute.value
            }
            return nil
        }
        set {
            if let index = attributes.firstIndex(where: { $0.name == name && $0.namespace.isEmpty }) {
                if let newValue { attributes[index].value = newValue } else { attributes.remove(at: index) }
            } else if let newValue {
                attributes.append(XAttribute(name: name, value: newValue))
            }
        }
    }

    /// `xml:lang`, if present.
    public var language: String? {
        attributes.first { $0.name == "lang" && $0.namespace == XMLNamespace.xml }?.value
    }

    /// Direct child elements, in order.
    public var elements: [XElement] {
        children.compactMap { if case .element(let element) = $0 { element } else { nil } }
    }

    /// The first child element with this name (and namespace, when given).
    public func child(_ name: String, namespace: String? = nil) -> XElement? {
        for case .element(let element) in children where element.name == name && (namespace == nil || element.namespace == namespace) {
            return element
        }
        return nil
    }

    /// The first child element in a namespace, whatever its name.
    public func child(namespace: String) -> XElement? {
        for case .element(let element) in children where element.namespace == namespace {
            return element
        }
        return nil
    }

    /// The concatenated text of the direct text children.
    public var text: String {
        var result = ""
        for case .text(let text) in children { result += text }
        return result
    }

    /// Appends a child element and returns self, for building trees fluently.
    public func appending(_ element: XElement) -> XElement {
        var copy = self
        copy.children.append(.element(element))
        return copy
    }

    public mutating func append(_ element: XElement) { children.append(.element(element)) }
    public mutating func append(text: String) { children.append(.text(text)) }
}

public struct XAttribute: Sendable, Hashable {
    public var name: String
    /// Namespace URI of a qualified attribute (e.g. `xml:lang`), `""` for ordinary ones.
    public var namespace: String
    public var value: String

    public init(name: String, namespace: String = "", value: String) {
        self.name = name
        self.namespace = namespace
        self.value = value
    }
}

public enum XNode: Sendable, Hashable {
    case element(XElement)
    case text(String)
}

public enum XMLNamespace {
    public static let xml = "http://www.w3.org/XML/1998/namespace"
    public static let streams = "http://etherx.jabber.org/streams"
}
