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

    /// The same markup as UTF-8 bytes appended to `output`: what a connection writes to its socket,
    /// without building a `String` first and copying it again (a routed stanza is serialised once
    /// per recipient, so this is on the path of every delivery).
    public func write(_ element: XElement, inheritedNamespace: String, into output: inout [UInt8]) {
        var generatedPrefixCount = 0
        write(element, inheritedNamespace: inheritedNamespace, into: &output, generatedPrefixCount: &generatedPrefixCount)
    }

    /// `write(_:inheritedNamespace:into:)` that reuses the markup of the children of the element
    /// written before it when this one has the very same children: a broadcast sends one element to
    /// each recipient with only its `to` changed, and its children need not be serialised again.
    public func write(_ element: XElement, inheritedNamespace: String, into output: inout [UInt8], memo: inout ChildrenMarkupMemo) {
        var generatedPrefixCount = 0
        let childNamespace = writeOpeningTag(element, inheritedNamespace: inheritedNamespace, into: &output,
                                             generatedPrefixCount: &generatedPrefixCount)
        guard !element.children.isEmpty else { return }
        // The children's markup depends on them, on their inherited namespace, on the prefixes in
        // scope, and on how many prefixes were generated before them (none, for a memo to apply).
        if generatedPrefixCount == 0 {
            if memo.holds(element.children, childNamespace: childNamespace, prefixes: prefixes) {
                memo.noteReuse()
                output.append(contentsOf: memo.markup)
            } else {
                let start = output.count
                writeChildren(of: element, childNamespace: childNamespace, into: &output, generatedPrefixCount: &generatedPrefixCount)
                memo.keep(element.children, childNamespace: childNamespace, prefixes: prefixes, markup: output[start...])
            }
        } else {
            writeChildren(of: element, childNamespace: childNamespace, into: &output, generatedPrefixCount: &generatedPrefixCount)
        }
        writeClosingTag(element, into: &output)
    }

    private func write<Output: XMLOutput>(
        _ element: XElement, inheritedNamespace: String, into output: inout Output, generatedPrefixCount: inout Int
    ) {
        let childNamespace = writeOpeningTag(element, inheritedNamespace: inheritedNamespace, into: &output,
                                             generatedPrefixCount: &generatedPrefixCount)
        guard !element.children.isEmpty else { return }
        writeChildren(of: element, childNamespace: childNamespace, into: &output, generatedPrefixCount: &generatedPrefixCount)
        writeClosingTag(element, into: &output)
    }

    /// The start tag (the whole empty-element tag when there are no children); returns the
    /// namespace the children inherit.
    private func writeOpeningTag<Output: XMLOutput>(
        _ element: XElement, inheritedNamespace: String, into output: inout Output, generatedPrefixCount: inout Int
    ) -> String {
        output.appendMarkup("<")
        var childNamespace = inheritedNamespace
        if let prefix = prefix(for: element.namespace) {
            output.appendMarkup(prefix)
            output.appendMarkup(":")
            output.appendMarkup(element.name)
        } else {
            output.appendMarkup(element.name)
            if !Self.sameContentNamespace(element.namespace, inheritedNamespace) {
                output.appendMarkup(" xmlns='")
                output.appendEscaped(element.namespace, attribute: true)
                output.appendMarkup("'")
            }
            childNamespace = element.namespace
        }
        for attribute in element.attributes {
            output.appendMarkup(" ")
            if attribute.namespace.isEmpty {
                output.appendMarkup(attribute.name)
            } else if attribute.namespace == XMLNamespace.xml {
                output.appendMarkup("xml:")
                output.appendMarkup(attribute.name)
            } else if let prefix = prefix(for: attribute.namespace) {
                output.appendMarkup(prefix)
                output.appendMarkup(":")
                output.appendMarkup(attribute.name)
            } else {
                generatedPrefixCount += 1
                let prefix = "ns\(generatedPrefixCount)"
                output.appendMarkup("xmlns:\(prefix)='")
                output.appendEscaped(attribute.namespace, attribute: true)
                output.appendMarkup("' \(prefix):")
                output.appendMarkup(attribute.name)
            }
            output.appendMarkup("='")
            output.appendEscaped(attribute.value, attribute: true)
            output.appendMarkup("'")
        }
        output.appendMarkup(element.children.isEmpty ? "/>" : ">")
        return childNamespace
    }

    private func writeChildren<Output: XMLOutput>(
        of element: XElement, childNamespace: String, into output: inout Output, generatedPrefixCount: inout Int
    ) {
        for child in element.children {
            switch child {
            case .text(let text):
                output.appendEscaped(text, attribute: false)
            case .element(let childElement):
                write(childElement, inheritedNamespace: childNamespace, into: &output, generatedPrefixCount: &generatedPrefixCount)
            }
        }
    }

    private func writeClosingTag<Output: XMLOutput>(_ element: XElement, into output: inout Output) {
        output.appendMarkup("</")
        if let prefix = prefix(for: element.namespace) {
            output.appendMarkup(prefix)
            output.appendMarkup(":")
        }
        output.appendMarkup(element.name)
        output.appendMarkup(">")
    }

    static func sameContentNamespace(_ a: String, _ b: String) -> Bool {
        a == b || (isStanzaNamespace(a) && isStanzaNamespace(b))
    }

    static func isStanzaNamespace(_ namespace: String) -> Bool {
        namespace == "jabber:client" || namespace == "jabber:server"
    }
}

/// The markup of the children of the last element an encoder wrote, for `XMLSerializer`'s
/// `write(_:inheritedNamespace:into:memo:)`.
///
/// It is recognised by identity: an element copied for another recipient shares its children's
/// storage with the original (arrays are copy-on-write), and the memo keeps that storage alive,
/// so the same address cannot come back holding other children. Comparing the children's values
/// would cost as much as writing them.
public struct ChildrenMarkupMemo {
    /// Children whose markup is longer are not kept: the memo is for broadcasts of small stanzas,
    /// and should not hold a large one's children after it was written.
    static let maxMarkupBytes = 4096
    private var children: [XNode] = []
    private var childNamespace = ""
    private var prefixes: [(namespace: String, prefix: String)] = []
    private(set) var markup: [UInt8] = []
    /// How many elements were written with the kept markup (tests look).
    private(set) var reuses = 0

    public init() {}

    func holds(_ children: [XNode], childNamespace: String, prefixes: [(namespace: String, prefix: String)]) -> Bool {
        guard !self.children.isEmpty, Self.sameStorage(children, self.children), childNamespace == self.childNamespace,
              prefixes.count == self.prefixes.count else { return false }
        for (a, b) in zip(prefixes, self.prefixes) where a.namespace != b.namespace || a.prefix != b.prefix { return false }
        return true
    }

    mutating func keep(_ children: [XNode], childNamespace: String, prefixes: [(namespace: String, prefix: String)], markup: ArraySlice<UInt8>) {
        guard markup.count <= Self.maxMarkupBytes else {
            forget()
            return
        }
        self.children = children
        self.childNamespace = childNamespace
        self.prefixes = prefixes
        self.markup.removeAll(keepingCapacity: true)
        self.markup.append(contentsOf: markup)
    }

    mutating func noteReuse() { reuses &+= 1 }

    mutating func forget() {
        children = []
        markup.removeAll(keepingCapacity: true)
    }

    private static func sameStorage(_ a: [XNode], _ b: [XNode]) -> Bool {
        a.count == b.count && a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
    }
}

/// Where the serializer writes: text or UTF-8 bytes, the same markup either way.
protocol XMLOutput {
    /// Names, punctuation and anything else that is markup already.
    mutating func appendMarkup(_ markup: String)
    mutating func appendEscaped(_ text: String, attribute: Bool)
}

extension String: XMLOutput {
    mutating func appendMarkup(_ markup: String) { self += markup }
    mutating func appendEscaped(_ text: String, attribute: Bool) { XMLEscaping.appendEscaped(text, to: &self, attribute: attribute) }
}

extension Array: XMLOutput where Element == UInt8 {
    mutating func appendMarkup(_ markup: String) {
        if markup.utf8.withContiguousStorageIfAvailable({ append(contentsOf: $0) }) == nil {
            append(contentsOf: markup.utf8)
        }
    }

    mutating func appendEscaped(_ text: String, attribute: Bool) { XMLEscaping.appendEscaped(text, to: &self, attribute: attribute) }
}

public enum XMLEscaping {
    /// Escapes the five XML special characters, and the white space a parser would otherwise
    /// normalise: CR everywhere, TAB and LF inside attribute values (XML 1.0 §2.11, §3.3.3).
    /// Valid for text and for single- or double-quoted attributes.
    public static func appendEscaped(_ string: String, to output: inout String, attribute: Bool = true) {
        guard string.utf8.contains(where: { escape($0, attribute: attribute) != nil }) else {
            output += string
            return
        }
        for scalar in string.unicodeScalars {
            if scalar.isASCII, let replacement = escape(UInt8(scalar.value), attribute: attribute) {
                output += replacement.description
            } else {
                output.unicodeScalars.append(scalar)
            }
        }
    }

    /// `appendEscaped(_:to:attribute:)` for UTF-8 output. The characters escaped are all ASCII, so
    /// working byte by byte never splits a multi-byte sequence.
    public static func appendEscaped(_ string: String, to output: inout [UInt8], attribute: Bool = true) {
        var text = string
        text.withUTF8 { bytes in
            var clean = 0
            for index in 0..<bytes.count {
                guard let replacement = escape(bytes[index], attribute: attribute) else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean..<index]))
                replacement.withUTF8Buffer { output.append(contentsOf: $0) }
                clean = index + 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[clean...]))
        }
    }

    /// The replacement for an ASCII byte that must be escaped, nil for every other byte.
    private static func escape(_ byte: UInt8, attribute: Bool) -> StaticString? {
        switch byte {
        case UInt8(ascii: "<"): "&lt;"
        case UInt8(ascii: ">"): "&gt;"
        case UInt8(ascii: "&"): "&amp;"
        case UInt8(ascii: "'"): "&apos;"
        case UInt8(ascii: "\""): "&quot;"
        case 0x0D: "&#xD;"
        case 0x09 where attribute: "&#x9;"
        case 0x0A where attribute: "&#xA;"
        default: nil
        }
    }

    public static func escaped(_ string: String) -> String {
        var output = ""
        appendEscaped(string, to: &output)
        return output
    }
}
