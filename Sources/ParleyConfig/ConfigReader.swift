// A small reader over a composed Yams `Node` tree that tracks the key path of every value, collects
// problems instead of stopping at the first, and reports the keys of a mapping nobody asked for.
//
//     let problems = ConfigProblems()
//     ConfigValue(node: root, path: .root, problems: problems).withMapping { root in
//         let port = root["port"]?.int(in: 1...65535)
//     }   // unknown keys of `root` are reported here
//     problems.list   // ["port: expected an integer between 1 and 65535, got \"abc\""]

import Yams

/// A position in the configuration tree, printed as `listeners.c2s.port` or `hosts[0].name`.
struct ConfigPath: Equatable, Sendable, CustomStringConvertible {
    enum Component: Equatable, Sendable {
        case key(String)
        case index(Int)
    }

    private(set) var components: [Component] = []

    static let root = ConfigPath()

    func appending(key: String) -> ConfigPath {
        var copy = self
        copy.components.append(.key(key))
        return copy
    }

    func appending(index: Int) -> ConfigPath {
        var copy = self
        copy.components.append(.index(index))
        return copy
    }

    var description: String {
        if components.isEmpty { return "(root)" }
        var text = ""
        for component in components {
            switch component {
            case .index(let index):
                text += "[\(index)]"
            case .key(let key) where Self.isPlainKey(key):
                text += text.isEmpty ? key : "." + key
            case .key(let key):
                text += "[\(quoted(key))]"
            }
        }
        return text
    }

    private static func isPlainKey(_ key: String) -> Bool {
        !key.isEmpty && key.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
            default: false
            }
        }
    }
}

/// Collects problems as `"path: message"` lines, in the order they are found.
final class ConfigProblems {
    private(set) var list: [String] = []

    func report(_ path: ConfigPath, _ message: String) {
        list.append("\(path): \(message)")
    }

    func reportUnlocated(_ message: String) {
        list.append(message)
    }

    var isEmpty: Bool { list.isEmpty }
}

/// One value of the tree together with its path. The typed accessors return `nil` after reporting a
/// problem when the value does not fit.
struct ConfigValue {
    let node: Node
    let path: ConfigPath
    let problems: ConfigProblems

    // MARK: Reporting

    func report(_ message: String) {
        problems.report(path, message)
    }

    /// Reports `expected <what>, got <this value>`.
    func reportMismatch(expected: String) {
        report("expected \(expected), got \(summary)")
    }

    /// A short rendering of the value for messages: strings quoted, other scalars as written.
    var summary: String {
        switch node {
        case .scalar(let scalar):
            switch tagName {
            case .str:
                return quoted(scalar.string)
            case .null:
                return "null"
            default:
                return truncated(scalar.string)
            }
        case .mapping:
            return "a mapping"
        case .sequence:
            return "a list"
        case .alias:
            return "an alias"
        }
    }

    // MARK: Kinds

    /// The resolved YAML tag (`str`, `int`, `float`, `bool`, `null`, …).
    var tagName: Tag.Name {
        Tag.Name(rawValue: node.tag.rawValue)
    }

    var isNull: Bool {
        if case .scalar = node, tagName == .null { return true }
        return false
    }

    /// `true`/`false` when the value is a YAML boolean, without reporting anything.
    var boolIfPresent: Bool? {
        guard case .scalar = node, tagName == .bool else { return nil }
        return node.bool
    }

    // MARK: Scalars

    /// A boolean (`true`/`false`; YAML 1.1 spellings such as `yes`/`off` are accepted too).
    func bool() -> Bool? {
        if let value = boolIfPresent { return value }
        reportMismatch(expected: "true or false")
        return nil
    }

    /// A string. Numbers are accepted as their written text; null, booleans and collections are not.
    func string(expected: String = "a string") -> String? {
        guard case .scalar(let scalar) = node else {
            reportMismatch(expected: expected)
            return nil
        }
        switch tagName {
        case .null, .bool:
            reportMismatch(expected: expected)
            return nil
        default:
            return scalar.string
        }
    }

    /// A string with at least one non-whitespace character.
    func nonEmptyString(expected: String = "a non-empty string") -> String? {
        guard let text = string(expected: expected) else { return nil }
        guard !text.allSatisfy(\.isWhitespace) else {
            reportMismatch(expected: expected)
            return nil
        }
        return text
    }

    /// An integer within `range`.
    func int(in range: ClosedRange<Int>) -> Int? {
        let expected = Self.describe(range)
        guard case .scalar = node, tagName == .int, let value = node.int, range.contains(value) else {
            reportMismatch(expected: expected)
            return nil
        }
        return value
    }

    /// A finite number greater than zero and at most `maximum` (integers are accepted).
    func positiveNumber(atMost maximum: Double, unit: String) -> Double? {
        let expected = "a number of \(unit) greater than 0 and at most \(Self.format(maximum))"
        guard case .scalar(let scalar) = node else {
            reportMismatch(expected: expected)
            return nil
        }
        let value: Double?
        switch tagName {
        case .int: value = node.int.map(Double.init)
        case .float: value = Double.construct(from: scalar)
        default: value = nil
        }
        guard let value, value.isFinite, value > 0, value <= maximum else {
            reportMismatch(expected: expected)
            return nil
        }
        return value
    }

    // MARK: Collections

    /// The items of a list, each with its indexed path.
    func list(expected: String = "a list") -> [ConfigValue]? {
        guard case .sequence(let sequence) = node else {
            reportMismatch(expected: expected)
            return nil
        }
        return sequence.enumerated().map { offset, item in
            ConfigValue(node: item, path: path.appending(index: offset), problems: problems)
        }
    }

    /// Runs `body` with a reader for this mapping, then reports every key `body` did not read.
    /// A null value (an empty section such as `limits:`) reads as an empty mapping when `nullIsEmpty`.
    /// Returns `nil`, after reporting, when the value is not a mapping.
    @discardableResult
    func withMapping<T>(
        expected: String = "a mapping",
        nullIsEmpty: Bool = true,
        _ body: (ConfigMapping) -> T
    ) -> T? {
        let mapping: ConfigMapping
        switch node {
        case .mapping(let pairs):
            mapping = ConfigMapping(pairs: Array(pairs), path: path, problems: problems)
        case .scalar where nullIsEmpty && isNull:
            mapping = ConfigMapping(pairs: [], path: path, problems: problems)
        default:
            reportMismatch(expected: expected)
            return nil
        }
        let result = body(mapping)
        mapping.reportUnreadKeys()
        return result
    }

    // MARK: Message helpers

    static func describe(_ range: ClosedRange<Int>) -> String {
        switch (range.lowerBound, range.upperBound) {
        case (1, Int.max): "a positive integer"
        case (0, Int.max): "a non-negative integer"
        case (let low, Int.max): "an integer of at least \(low)"
        case (let low, let high): "an integer between \(low) and \(high)"
        }
    }

    private static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}

/// The keys of one mapping. Reading a key marks it as known; `reportUnreadKeys()` (called by
/// `ConfigValue.withMapping`) reports the rest, in document order.
final class ConfigMapping {
    let path: ConfigPath
    let problems: ConfigProblems
    private var entries: [(key: String, value: Node)] = []
    private var firstIndex: [String: Int] = [:]
    private var read: Set<String> = []

    init(pairs: [(key: Node, value: Node)], path: ConfigPath, problems: ConfigProblems) {
        self.path = path
        self.problems = problems
        for (keyNode, value) in pairs {
            guard case .scalar(let scalar) = keyNode else {
                problems.report(path, "mapping keys must be plain strings, got \(ConfigValue(node: keyNode, path: path, problems: problems).summary)")
                continue
            }
            let key = scalar.string
            if firstIndex[key] != nil {
                problems.report(path.appending(key: key), "duplicate key")
                continue
            }
            firstIndex[key] = entries.count
            entries.append((key, value))
        }
    }

    /// The value for `key`, or `nil` when absent. Marks the key as known either way.
    subscript(key: String) -> ConfigValue? {
        read.insert(key)
        guard let index = firstIndex[key] else { return nil }
        return ConfigValue(node: entries[index].value, path: path.appending(key: key), problems: problems)
    }

    /// Whether `key` is present (does not mark it as read).
    func contains(_ key: String) -> Bool {
        firstIndex[key] != nil
    }

    /// Every key present, in document order (does not mark them as read).
    var keys: [String] {
        entries.map(\.key)
    }

    /// Reads `key` with `transform` and stores the result in `target` when present and valid.
    func read<T>(_ key: String, into target: inout T, _ transform: (ConfigValue) -> T?) {
        if let value = self[key], let result = transform(value) {
            target = result
        }
    }

    /// Reports every key present but never asked for.
    func reportUnreadKeys() {
        let known = read.sorted()
        for (key, _) in entries where !read.contains(key) {
            var message = key == "<<" ? "unknown key (YAML merge keys are not supported)" : "unknown key"
            if let suggestion = Self.closest(to: key, among: known) {
                message += " (did you mean \(quoted(suggestion))?)"
            }
            problems.report(path.appending(key: key), message)
        }
    }

    private static func closest(to key: String, among candidates: [String]) -> String? {
        let lowered = key.lowercased()
        var best: (name: String, distance: Int)?
        for candidate in candidates where !candidate.isEmpty {
            let distance = editDistance(lowered, candidate)
            // Short keys get no suggestion: `s2s` is not a typo of `c2s`.
            let allowed = min(3, candidate.count / 4)
            if distance <= allowed, distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// `"text"` with quotes and control characters escaped, shortened when long.
func quoted(_ text: String) -> String {
    var escaped = ""
    for scalar in truncated(text).unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        case "\t": escaped += "\\t"
        case "\r": escaped += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                escaped += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
    }
    return "\"" + escaped + "\""
}

private func truncated(_ text: String, limit: Int = 60) -> String {
    text.count <= limit ? text : String(text.prefix(limit)) + "…"
}
