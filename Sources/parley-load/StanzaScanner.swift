#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the boundaries of an XMPP stream's top-level elements without building trees: the load
/// generator's whole parser. It tracks tag nesting (quotes in attribute values included) and reports
/// the stream header, each complete child of the stream, and the stream's end as byte ranges into
/// `buffer`. Callers look inside those ranges with `ByteSearch`.
///
/// Not a validating parser: the servers under test send well-formed XML, and CDATA sections and
/// comments (which servers do not send) are not handled.
struct StanzaScanner {
    enum Event {
        case streamOpened(Range<Int>)
        case element(Range<Int>)
        case streamClosed
    }

    private enum State: UInt8 {
        case text, tagOpen, startTag, endTag, declaration
    }

    /// Received bytes not yet consumed; ranges in events index into it.
    private(set) var buffer: [UInt8] = []
    private var position = 0
    private var depth = 0
    private var elementStart = 0
    private var tagStart = 0
    private var quote: UInt8 = 0
    private var state = State.text

    init() {
        buffer.reserveCapacity(4096)
    }

    /// Forgets everything: after `<proceed/>` and `<success/>` the stream starts over (RFC 6120 §5.4.3.3, §6.4.6).
    mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        position = 0
        depth = 0
        elementStart = 0
        tagStart = 0
        quote = 0
        state = .text
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// Scans what has arrived, calling `handle` for each event with the buffer; `handle` returns
    /// false to stop (the caller then usually resets the scanner).
    mutating func scan(_ handle: (Event, UnsafeBufferPointer<UInt8>) -> Bool) {
        var i = position
        var stop = false
        var depth = self.depth
        var elementStart = self.elementStart
        var tagStart = self.tagStart
        var quote = self.quote
        var state = self.state
        buffer.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let n = buf.count
            while i < n && !stop {
                switch state {
                case .text:
                    guard let found = memchr(base + i, 0x3C, n - i) else {
                        i = n
                        continue
                    }
                    i = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - base
                    tagStart = i
                    state = .tagOpen
                    i += 1
                case .tagOpen:
                    let c = base[i]
                    if c == 0x2F {  // '/'
                        state = .endTag
                    } else if c == 0x3F || c == 0x21 {  // '?', '!'
                        state = .declaration
                    } else {
                        state = .startTag
                        quote = 0
                    }
                    i += 1
                case .startTag:
                    while i < n {
                        let c = base[i]
                        if quote != 0 {
                            if c == quote { quote = 0 }
                        } else if c == 0x22 || c == 0x27 {
                            quote = c
                        } else if c == 0x3E {  // '>'
                            break
                        }
                        i += 1
                    }
                    guard i < n else { continue }
                    let selfClosing = base[i - 1] == 0x2F
                    let end = i + 1
                    state = .text
                    if depth == 0 {
                        depth = 1
                        stop = !handle(.streamOpened(tagStart..<end), buf)
                    } else if depth == 1 {
                        elementStart = tagStart
                        if selfClosing {
                            stop = !handle(.element(tagStart..<end), buf)
                        } else {
                            depth = 2
                        }
                    } else if !selfClosing {
                        depth += 1
                    }
                    i = end
                case .endTag:
                    guard let found = memchr(base + i, 0x3E, n - i) else {
                        i = n
                        continue
                    }
                    i = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - base + 1
                    state = .text
                    depth -= 1
                    if depth == 1 {
                        stop = !handle(.element(elementStart..<i), buf)
                    } else if depth <= 0 {
                        depth = 0
                        stop = !handle(.streamClosed, buf)
                    }
                case .declaration:
                    guard let found = memchr(base + i, 0x3E, n - i) else {
                        i = n
                        continue
                    }
                    i = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - base + 1
                    state = .text
                }
            }
        }
        if stop { return }  // the caller resets or closes
        self.depth = depth
        self.quote = quote
        self.state = state
        // Drop what is consumed: keep an unfinished element, or an unfinished tag.
        var keep = i
        if depth >= 2 {
            keep = elementStart
        } else if state != .text {
            keep = tagStart
        }
        if keep >= buffer.count {
            buffer.removeAll(keepingCapacity: true)
            self.position = 0
            self.elementStart = 0
            self.tagStart = 0
        } else if keep > 0 {
            buffer.removeSubrange(0..<keep)
            self.position = i - keep
            self.elementStart = max(0, elementStart - keep)
            self.tagStart = max(0, tagStart - keep)
        } else {
            self.position = i
            self.elementStart = elementStart
            self.tagStart = tagStart
        }
    }
}

/// Byte-level look-ups inside an element found by `StanzaScanner`.
enum ByteSearch {
    /// Whether the bytes at `offset` begin with `prefix`.
    @inline(__always)
    static func hasPrefix(_ buf: UnsafeBufferPointer<UInt8>, at offset: Int, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard offset + count <= buf.count, let base = buf.baseAddress else { return false }
        return memcmp(base + offset, prefix.utf8Start, count) == 0
    }

    /// The offset of `needle` within `range`, or nil.
    @inline(__always)
    static func find(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ needle: StaticString) -> Int? {
        find(buf, range, UnsafeRawPointer(needle.utf8Start), needle.utf8CodeUnitCount)
    }

    static func find(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ needle: [UInt8]) -> Int? {
        needle.withUnsafeBytes { find(buf, range, $0.baseAddress!, $0.count) }
    }

    static func find(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ needle: UnsafeRawPointer, _ count: Int) -> Int? {
        guard let base = buf.baseAddress, range.count >= count, count > 0 else { return nil }
        // memchr for the first byte, memcmp for the rest (memmem is a GNU extension Glibc's module hides).
        let first = Int32(needle.load(as: UInt8.self))
        var i = range.lowerBound
        let lastStart = range.upperBound - count
        while i <= lastStart {
            guard let hit = memchr(base + i, first, lastStart - i + 1) else { return nil }
            let at = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
            if memcmp(base + at, needle, count) == 0 { return at }
            i = at + 1
        }
        return nil
    }

    /// The end of the start tag that begins at `range.lowerBound` (the offset just past its `>`).
    static func startTagEnd(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        var quote: UInt8 = 0
        var i = range.lowerBound
        while i < range.upperBound {
            let c = buf[i]
            if quote != 0 {
                if c == quote { quote = 0 }
            } else if c == 0x22 || c == 0x27 {
                quote = c
            } else if c == 0x3E {
                return i + 1
            }
            i += 1
        }
        return range.upperBound
    }

    /// The value of attribute `name` (given with its leading space and `=`, e.g. `" from="`) in the
    /// start tag that begins the range.
    static func attribute(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ name: StaticString) -> Range<Int>? {
        let tagEnd = startTagEnd(buf, range)
        guard let at = find(buf, range.lowerBound..<tagEnd, name) else { return nil }
        let open = at + name.utf8CodeUnitCount
        guard open < tagEnd else { return nil }
        let quote = buf[open]
        guard quote == 0x22 || quote == 0x27 else { return nil }
        var close = open + 1
        while close < tagEnd && buf[close] != quote { close += 1 }
        return (open + 1)..<close
    }

    /// The text between `<name…>` and the next `<` after it, for a child element named by `open`
    /// (e.g. `"<body"`), or nil. Handles `<name>` and `<name attr…>`; an empty element gives nil.
    static func childText(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ open: StaticString) -> Range<Int>? {
        var from = range.lowerBound
        while let at = find(buf, from..<range.upperBound, open) {
            let next = at + open.utf8CodeUnitCount
            guard next < range.upperBound else { return nil }
            let c = buf[next]
            // `<body>` or `<body xmlns=…>`, not `<bodyx`.
            if c == 0x3E || c == 0x20 || c == 0x2F || c == 0x09 || c == 0x0A || c == 0x0D {
                let tagEnd = startTagEnd(buf, at..<range.upperBound)
                guard tagEnd <= range.upperBound, buf[tagEnd - 2] != 0x2F else { return nil }
                var end = tagEnd
                while end < range.upperBound && buf[end] != 0x3C { end += 1 }
                return tagEnd..<end
            }
            from = next
        }
        return nil
    }

    /// Every child text of `open` in the range (for `<mechanism>` lists).
    static func allChildTexts(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ open: StaticString) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var from = range.lowerBound
        while from < range.upperBound, let text = childText(buf, from..<range.upperBound, open) {
            out.append(text)
            from = text.upperBound
        }
        return out
    }

    /// The decimal number at the start of the range (stopping at the first non-digit).
    @inline(__always)
    static func decimal(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64? {
        var value: UInt64 = 0
        var i = range.lowerBound
        while i < range.upperBound {
            let d = buf[i] &- 0x30
            if d > 9 { break }
            value = value &* 10 &+ UInt64(d)
            i += 1
        }
        return i == range.lowerBound ? nil : value
    }

    /// The local name of the element starting at `offset` (after `<` and any prefix).
    static func localName(_ buf: UnsafeBufferPointer<UInt8>, at offset: Int, limit: Int) -> Range<Int> {
        var start = offset + 1
        var i = start
        while i < limit {
            let c = buf[i]
            if c == 0x3A { start = i + 1 } else if c == 0x20 || c == 0x3E || c == 0x2F || c == 0x09 || c == 0x0A || c == 0x0D { break }
            i += 1
        }
        return start..<i
    }

    static func string(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buf[range]), as: UTF8.self)
    }

    static func equals(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        range.count == literal.utf8CodeUnitCount && hasPrefix(buf, at: range.lowerBound, literal)
    }
}
