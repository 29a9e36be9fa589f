import XMPPXML

/// Elements kept by stores as XML text: the serializer's output, read back by the stream parser.
///
/// Text backends (SQLite, PostgreSQL) store what `encode` returns and `decode` it when loading.
/// Namespaces are always declared (no stream prefixes are assumed), so the text stands on its own.
public enum StoredXML {
    private static let serializer = XMLSerializer(declaredPrefixes: [:])

    /// The element as standalone XML text.
    public static func encode(_ element: XElement) -> String {
        serializer.serialize(element, inheritedNamespace: "")
    }

    /// The UTF-8 size of `encode(element)`, for size limits.
    public static func byteCount(of element: XElement) -> Int {
        encode(element).utf8.count
    }

    /// Parses text produced by `encode`. Throws `StoredXMLError.malformed` if it is not exactly one element.
    public static func decode(_ text: String) throws(StoredXMLError) -> XElement {
        // The stream parser yields the children of a root, so the stored element is wrapped in one.
        // Its limits only need to admit what was stored: the element's own size, generous depth.
        let bytes = Array(("<stored>" + text + "</stored>").utf8)
        let parser = XMLStreamParser(limits: XMLStreamLimits(
            maxTokenBytes: bytes.count, maxElementBytes: bytes.count, maxDepth: 1024))
        let events: [XMLStreamEvent]
        do {
            events = try parser.feed(bytes)
        } catch {
            throw .malformed(String(describing: error))
        }
        let elements = events.compactMap { event -> XElement? in
            if case .element(let element) = event { element } else { nil }
        }
        guard elements.count == 1, events.last == .streamEnd else {
            throw .malformed("expected exactly one element, found \(elements.count)")
        }
        return elements[0]
    }
}

public enum StoredXMLError: Error, Equatable, Sendable {
    /// Stored text that does not parse back into one element.
    case malformed(String)
}
