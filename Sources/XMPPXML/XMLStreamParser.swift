import CExpat
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the stream parser produces: the root's start tag, each complete top-level child, the root's end.
public enum XMLStreamEvent: Sendable, Hashable {
    /// The stream root opened: its name, namespace, attributes and the namespace declarations on it
    /// (`prefix` is `""` for the default namespace).
    case streamStart(name: String, namespace: String, attributes: [XAttribute], namespaceDeclarations: [NamespaceDeclaration])
    /// A complete first-level child of the root (a stanza or a negotiation element).
    case element(XElement)
    /// The root element closed.
    case streamEnd
}

public struct NamespaceDeclaration: Sendable, Hashable {
    public var prefix: String
    public var uri: String
    public init(prefix: String, uri: String) {
        self.prefix = prefix
        self.uri = uri
    }
}

/// Why the parser gave up. Each maps to an RFC 6120 §4.9.3 stream error.
public enum XMLStreamError: Error, Sendable, Hashable {
    /// Malformed XML (RFC 6120 §4.9.3.13 `not-well-formed`).
    case notWellFormed(String)
    /// A DTD, entity declaration, processing instruction or comment (RFC 6120 §11.1 → `restricted-xml`).
    case restrictedXML(String)
    /// A limit was exceeded (→ `policy-violation`).
    case limitExceeded(String)
}

/// Limits the parser enforces on what a peer sends.
public struct XMLStreamLimits: Sendable, Hashable {
    /// The most bytes a single token (e.g. a start tag) may take before it is complete.
    public var maxTokenBytes: Int
    /// The most bytes one first-level element may take, from its `<` to its end.
    public var maxElementBytes: Int
    /// The deepest nesting allowed, counting the stream root as depth 1.
    public var maxDepth: Int
    /// After this many bytes, the expat parser is replaced by a fresh one at the next stanza
    /// boundary. Expat keeps every distinct element name, attribute name and prefix it has seen in
    /// tables that live as long as the parser (about 80 bytes per name), so a stream that keeps
    /// sending new names (`<x1/>`, `<x2/>`, …) would otherwise grow the server without bound; with
    /// this, what one stream can make expat hold is bounded by this plus one stanza.
    public var recycleAfterBytes: Int

    public init(maxTokenBytes: Int = 16_384, maxElementBytes: Int = 65_536, maxDepth: Int = 64,
                recycleAfterBytes: Int = 65_536) {
        self.maxTokenBytes = maxTokenBytes
        self.maxElementBytes = maxElementBytes
        self.maxDepth = maxDepth
        self.recycleAfterBytes = recycleAfterBytes
    }
}

/// An expat push parser for one XML stream: feed it bytes as they arrive, get complete events back.
///
/// A new instance is used for each stream (and each stream restart, RFC 6120 §4.3.3). Not thread-safe:
/// it belongs to one connection. Expat's reparse deferral is turned off so that a complete stanza is
/// never held back waiting for more input (libexpat #840); the quadratic cost that deferral guards
/// against (CVE-2023-52425) is bounded instead by `maxTokenBytes`. Expat's state lives in a region of
/// its own, returned whole when it is freed (the CExpat shim), and is replaced by a fresh parser at
/// a stanza boundary every `recycleAfterBytes`.
public final class XMLStreamParser {
    public var limits: XMLStreamLimits
    /// Nil while released (see `releaseIfIdle`).
    private var parser: XML_Parser?
    /// Where `parser` allocates (see `parley_expat_create` in the CExpat shim); nil when the
    /// mapping failed and expat uses the heap.
    private var arena: UnsafeMutablePointer<parley_expat_arena>?
    /// The root's opening tag for replay into a rebuilt parser; set when the root opens.
    private var streamOpening: String?
    /// True while the opening tag is replayed: its events are not reported again.
    private var replaying = false
    private var events: [XMLStreamEvent] = []
    private var stack: [XElement] = []
    private var textBuffer: [UInt8] = []
    private var pendingDeclarations: [NamespaceDeclaration] = []
    private var depth = 0
    private var failure: XMLStreamError?
    private var bytesFed: Int = 0
    private var lastEventOffset: Int = 0
    private var elementStartOffset: Int = 0
    private var ended = false
    /// How many times expat's state was replaced by a fresh parser past `recycleAfterBytes`.
    public private(set) var recycleCount = 0

    public init(limits: XMLStreamLimits = XMLStreamLimits()) {
        self.limits = limits
        parser = makeParser()
    }

    private func makeParser() -> XML_Parser {
        // Namespace separator is a space: names arrive as "uri local".
        arena = parley_expat_arena_create()
        guard let parser = parley_expat_create(arena) else { fatalError("expat could not allocate a parser") }
        _ = parley_expat_disable_reparse_deferral(parser)
        XML_SetUserData(parser, Unmanaged.passUnretained(self).toOpaque())
        XML_SetElementHandler(parser, { userData, name, attributes in
            XMLStreamParser.from(userData).startElement(name!, attributes!)
        }, { userData, name in
            XMLStreamParser.from(userData).endElement(name!)
        })
        XML_SetCharacterDataHandler(parser) { userData, data, length in
            XMLStreamParser.from(userData).characters(data!, Int(length))
        }
        XML_SetStartNamespaceDeclHandler(parser) { userData, prefix, uri in
            XMLStreamParser.from(userData).namespaceDeclaration(prefix, uri)
        }
        // RFC 6120 §11.1: no DTDs, entity declarations, processing instructions or comments.
        XML_SetStartDoctypeDeclHandler(parser) { userData, _, _, _, _ in
            XMLStreamParser.from(userData).refuse("document type declaration")
        }
        XML_SetEntityDeclHandler(parser) { userData, _, _, _, _, _, _, _, _ in
            XMLStreamParser.from(userData).refuse("entity declaration")
        }
        XML_SetProcessingInstructionHandler(parser) { userData, _, _ in
            XMLStreamParser.from(userData).refuse("processing instruction")
        }
        XML_SetCommentHandler(parser) { userData, _ in
            XMLStreamParser.from(userData).refuse("comment")
        }
        return parser
    }

    // MARK: Releasing the parser of an idle stream

    /// Frees expat's state (about 8 KB: its buffers, name pools and tables) when the stream is
    /// between two stanzas with nothing buffered, so an idle connection costs only this object.
    /// The next `feed` builds a new expat parser and replays the stream's opening tag into it (its
    /// namespace declarations are all that later stanzas depend on). Returns whether it freed it.
    @discardableResult
    public func releaseIfIdle() -> Bool {
        guard let parser, streamOpening != nil, depth == 1, stack.isEmpty, textBuffer.isEmpty, failure == nil,
              !ended, unconsumedByteCount == 0 else { return false }
        freeParser(parser)
        // The buffers kept for reuse between stanzas go too.
        events = []
        stack = []
        textBuffer = []
        return true
    }

    private func freeParser(_ parser: XML_Parser) {
        parley_expat_free_parser(parser, arena)
        self.parser = nil
        arena = nil
    }

    /// Blocks of the current expat parser's region, and bytes of it handed out (for tests).
    var arenaUsage: (blocks: Int, bytes: Int)? {
        arena.map { (Int(parley_expat_arena_live($0)), Int(parley_expat_arena_used($0))) }
    }

    /// Whether expat's state is currently released (for tests).
    public var isReleased: Bool { parser == nil }

    /// A fresh expat parser positioned just inside the stream root, as the released one was.
    private func rebuildParser() throws(XMLStreamError) -> XML_Parser {
        let parser = makeParser()
        self.parser = parser
        let opening = Array((streamOpening ?? "").utf8)
        depth = 0
        replaying = true
        let status = opening.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { parley_expat_parse(parser, arena, $0.baseAddress, Int32($0.count)) }
        }
        replaying = false
        pendingDeclarations = []
        guard status == XML_STATUS_OK, failure == nil, depth == 1 else {
            let error = XMLStreamError.notWellFormed("could not resume the stream")
            failure = error
            throw error
        }
        // Offsets count from the start of this parser's input, the replayed tag included.
        bytesFed = opening.count
        lastEventOffset = opening.count
        elementStartOffset = opening.count
        return parser
    }

    /// The stream's opening tag as it can be replayed: its qualified name and namespace declarations.
    private static func opening(name: String, namespace: String, declarations: [NamespaceDeclaration]) -> String {
        let prefix = declarations.last { $0.uri == namespace && !$0.prefix.isEmpty }?.prefix
        let qualified = prefix.map { "\($0):\(name)" } ?? name
        var tag = "<" + qualified
        for declaration in declarations {
            tag += declaration.prefix.isEmpty ? " xmlns='" : " xmlns:\(declaration.prefix)='"
            XMLEscaping.appendEscaped(declaration.uri, to: &tag)
            tag += "'"
        }
        if prefix == nil, !declarations.contains(where: { $0.prefix.isEmpty && $0.uri == namespace }) {
            tag += " xmlns='"
            XMLEscaping.appendEscaped(namespace, to: &tag)
            tag += "'"
        }
        return tag + ">"
    }

    deinit {
        if let parser { freeParser(parser) }
    }

    private static func from(_ userData: UnsafeMutableRawPointer?) -> XMLStreamParser {
        Unmanaged<XMLStreamParser>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Parses the next bytes of the stream. Returns the events completed by them, or throws once the
    /// stream is unusable (after which the parser must not be fed again).
    public func feed(_ bytes: UnsafeRawBufferPointer) throws(XMLStreamError) -> [XMLStreamEvent] {
        if let failure { throw failure }
        if bytes.isEmpty { return [] }
        events.removeAll(keepingCapacity: true)
        var input = bytes
        while true {
            let parser: XML_Parser
            if let current = self.parser { parser = current } else { parser = try rebuildParser() }
            let offsetBefore = bytesFed
            let status = parley_expat_parse(parser, arena, input.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(input.count))
            if let failure { throw failure }
            if status == XML_STATUS_SUSPENDED {
                // A stanza ended past `recycleAfterBytes` (see `endElement`): the rest of this input
                // goes to a fresh parser, which starts inside the stream root as this one was.
                let used = lastEventOffset - offsetBefore
                bytesFed = lastEventOffset  // nothing unconsumed, as after any stanza
                freeParser(parser)
                recycleCount += 1
                input = UnsafeRawBufferPointer(rebasing: input[(input.startIndex + used)...])
                if input.isEmpty { return events }
                continue
            }
            bytesFed += input.count
            if status != XML_STATUS_OK {
                let code = XML_GetErrorCode(parser)
                let message = String(cString: XML_ErrorString(code))
                let error = XMLStreamError.notWellFormed(message)
                failure = error
                throw error
            }
            // The bytes not yet turned into any event belong to one unfinished token.
            if bytesFed - lastEventOffset > limits.maxTokenBytes {
                return try fail(.limitExceeded("token larger than \(limits.maxTokenBytes) bytes"))
            }
            if depth >= 2 && bytesFed - elementStartOffset > limits.maxElementBytes {
                return try fail(.limitExceeded("stanza larger than \(limits.maxElementBytes) bytes"))
            }
            return events
        }
    }

    /// Bytes fed that have not completed any event yet (part of an unfinished token).
    public var unconsumedByteCount: Int { bytesFed - lastEventOffset }

    public func feed(_ bytes: [UInt8]) throws(XMLStreamError) -> [XMLStreamEvent] {
        do {
            return try bytes.withUnsafeBytes { buffer in try feed(buffer) }
        } catch let error as XMLStreamError {
            throw error
        } catch {
            preconditionFailure("unreachable")
        }
    }

    public func feed(_ string: String) throws(XMLStreamError) -> [XMLStreamEvent] {
        try feed(Array(string.utf8))
    }

    private func fail(_ error: XMLStreamError) throws(XMLStreamError) -> [XMLStreamEvent] {
        failure = error
        throw error
    }

    // MARK: expat callbacks

    private func markEvent() {
        lastEventOffset = Int(XML_GetCurrentByteIndex(parser!)) + Int(XML_GetCurrentByteCount(parser!))
        // Checked here as well as after each feed, so one huge read cannot build a huge element first.
        if depth >= 2 && lastEventOffset - elementStartOffset > limits.maxElementBytes {
            stop(.limitExceeded("stanza larger than \(limits.maxElementBytes) bytes"))
        }
    }

    private func stop(_ error: XMLStreamError) {
        if failure == nil { failure = error }
        if let parser { XML_StopParser(parser, XML_FALSE) }
    }

    private func refuse(_ what: String) {
        stop(.restrictedXML(what))
    }

    private func namespaceDeclaration(_ prefix: UnsafePointer<CChar>?, _ uri: UnsafePointer<CChar>?) {
        guard depth == 0 else { return }
        pendingDeclarations.append(NamespaceDeclaration(
            prefix: prefix.map { String(cString: $0) } ?? "",
            uri: uri.map { String(cString: $0) } ?? ""))
    }

    private func startElement(_ rawName: UnsafePointer<CChar>, _ rawAttributes: UnsafeMutablePointer<UnsafePointer<CChar>?>) {
        guard failure == nil else { return }
        markEvent()
        depth += 1
        if depth > limits.maxDepth {
            stop(.limitExceeded("element nesting deeper than \(limits.maxDepth)"))
            return
        }
        flushText()
        let (namespace, name) = Self.split(rawName)
        var attributes: [XAttribute] = []
        var index = 0
        while let attributeName = rawAttributes[index], let value = rawAttributes[index + 1] {
            let (attributeNamespace, localName) = Self.split(attributeName)
            attributes.append(XAttribute(name: localName, namespace: attributeNamespace, value: String(cString: value)))
            index += 2
        }
        if depth == 1 {
            if !replaying {
                events.append(.streamStart(name: name, namespace: namespace, attributes: attributes, namespaceDeclarations: pendingDeclarations))
                streamOpening = Self.opening(name: name, namespace: namespace, declarations: pendingDeclarations)
            }
            pendingDeclarations = []
            return
        }
        if depth == 2 {
            elementStartOffset = Int(XML_GetCurrentByteIndex(parser!))
        }
        stack.append(XElement(name, namespace: namespace, attributes: attributes))
    }

    private func endElement(_ rawName: UnsafePointer<CChar>) {
        guard failure == nil else { return }
        markEvent()
        depth -= 1
        if depth == 0 {
            ended = true
            events.append(.streamEnd)
            return
        }
        flushText()
        guard let finished = stack.popLast() else { return }
        if stack.isEmpty {
            events.append(.element(finished))
            // Between two stanzas: past the limit, suspend here so `feed` can hand what follows to
            // a fresh parser (expat's name tables only grow; see `XMLStreamLimits.recycleAfterBytes`).
            if lastEventOffset >= limits.recycleAfterBytes, textBuffer.isEmpty, let parser {
                XML_StopParser(parser, XML_TRUE)
            }
        } else {
            stack[stack.count - 1].children.append(.element(finished))
        }
    }

    private func characters(_ data: UnsafePointer<CChar>, _ length: Int) {
        guard failure == nil else { return }
        markEvent()
        guard failure == nil else { return }
        // Text directly inside the stream root is only whitespace keepalives; drop it.
        guard depth >= 2 else { return }
        data.withMemoryRebound(to: UInt8.self, capacity: length) { pointer in
            textBuffer.append(contentsOf: UnsafeBufferPointer(start: pointer, count: length))
        }
    }

    private func flushText() {
        guard !textBuffer.isEmpty else { return }
        if !stack.isEmpty {
            stack[stack.count - 1].children.append(.text(String(decoding: textBuffer, as: UTF8.self)))
        }
        textBuffer.removeAll(keepingCapacity: true)
    }

    /// Splits expat's "uri local" name; names without a namespace have no space.
    /// Expat's "namespace-URI name" (its separator is a space). Both parts are made straight from
    /// expat's bytes: a whole-string copy first would be a heap allocation per element, since
    /// most qualified names are longer than a small string holds.
    private static func split(_ raw: UnsafePointer<CChar>) -> (namespace: String, name: String) {
        let length = strlen(raw)
        return raw.withMemoryRebound(to: UInt8.self, capacity: length) { start in
            let bytes = UnsafeBufferPointer(start: start, count: length)
            guard let space = bytes.lastIndex(of: 0x20) else { return ("", String(decoding: bytes, as: UTF8.self)) }
            return (String(decoding: UnsafeBufferPointer(rebasing: bytes[..<space]), as: UTF8.self),
                    String(decoding: UnsafeBufferPointer(rebasing: bytes[(space + 1)...]), as: UTF8.self))
        }
    }
}
