// Loading and validating the YAML configuration file.

import Foundation
import Yams

extension ServerConfig {
    /// Reads and validates the configuration file at `path`. Relative paths inside it (`data_directory`,
    /// certificates, keys) are resolved against the directory containing the file.
    public static func load(path: String) throws(ConfigError) -> ServerConfig {
        let absolute = ConfigPaths.resolve(path, against: FileManager.default.currentDirectoryPath)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw ConfigError(problems: ["cannot read configuration file \(quoted(absolute)): no such file"])
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(problems: ["cannot read configuration file \(quoted(absolute)): it is a directory"])
        }
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw ConfigError(problems: ["cannot read configuration file \(quoted(absolute)): permission denied or I/O error"])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(problems: ["cannot read configuration file \(quoted(absolute)): not valid UTF-8"])
        }
        return try parse(yaml: text, baseDirectory: ConfigPaths.directory(of: absolute))
    }

    /// Parses and validates a configuration document. Relative paths in it (`data_directory`,
    /// certificates, keys) are resolved against `baseDirectory`. An empty document gives the defaults.
    public static func parse(yaml: String, baseDirectory: String) throws(ConfigError) -> ServerConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(problems: [describe(error)])
        } catch {
            throw ConfigError(problems: ["invalid YAML: \(error)"])
        }
        let problems = ConfigProblems()
        let config = ConfigDecoder(problems: problems, baseDirectory: baseDirectory).decode(root)
        guard problems.isEmpty else {
            throw ConfigError(problems: problems.list)
        }
        return config
    }

    private static func describe(_ error: YamlError) -> String {
        func at(_ mark: Mark) -> String { at(line: mark.line, column: mark.column) }
        func at(line: Int, column: Int) -> String { "line \(line), column \(column)" }
        func syntax(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> String {
            var message = "\(at(mark)): invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at \(at(context.mark)))"
            }
            return message
        }
        switch error {
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return syntax(context, problem, mark)
        case let .reader(problem, offset, _, yaml):
            guard let offset, let index = yaml.index(yaml.startIndex, offsetBy: offset, limitedBy: yaml.endIndex) else {
                return "invalid YAML: \(problem)"
            }
            let before = yaml[..<index]
            let line = before.reduce(into: 1) { count, character in if character.isNewline { count += 1 } }
            let lineStart = before.lastIndex(where: \.isNewline).map { before.index(after: $0) } ?? before.startIndex
            let column = before[lineStart...].unicodeScalars.count + 1
            return "\(at(line: line, column: column)): invalid YAML: \(problem)"
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map(quoted).joined(separator: ", ")
            return "\(at(context.mark)): invalid YAML: duplicate key \(keys)"
        default:
            return "invalid YAML: \(error)"
        }
    }
}

/// Lexical path handling (no file system access, symlinks are left alone).
enum ConfigPaths {
    /// `path` made absolute against `base` (unless already absolute) and normalised (`.`, `..`, `//`).
    /// A leading `~` or `~/` stands for the home directory.
    static func resolve(_ path: String, against base: String) -> String {
        var path = path
        if path == "~" || path.hasPrefix("~/") {
            path = NSHomeDirectory() + path.dropFirst()
        }
        if path.hasPrefix("/") || base.isEmpty {
            return normalize(path)
        }
        return normalize(base + "/" + path)
    }

    /// The directory part of a normalised path (`/` for a file at the root).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".":
                continue
            case "..":
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !absolute {
                    parts.append(part)
                }
            default:
                parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }
}

/// Walks the composed document, filling in a `ServerConfig` and reporting every problem.
struct ConfigDecoder {
    let problems: ConfigProblems
    let baseDirectory: String

    /// The largest accepted timeout, in seconds (one year); keeps conversions to `Duration` safe.
    static let maximumTimeout: Double = 31_536_000

    func decode(_ root: Node?) -> ServerConfig {
        var config = ServerConfig.default(dataDirectory: resolve(ServerConfig.defaultDataDirectory))
        guard let root else { return config }
        ConfigValue(node: root, path: .root, problems: problems).withMapping(expected: "a mapping of settings") { map in
            if let hosts = map["hosts"], let decoded = decodeHosts(hosts) {
                config.hosts = decoded
            }
            map.read("data_directory", into: &config.dataDirectory) { value in
                value.nonEmptyString(expected: "a directory path").map(resolve)
            }
            if let listeners = map["listeners"] { decodeListeners(listeners, into: &config.listeners) }
            if let tls = map["tls"] { decodeTLS(tls, into: &config.tls) }
            if let limits = map["limits"] { decodeLimits(limits, into: &config.limits) }
            if let logging = map["logging"] { decodeLogging(logging, into: &config.logging) }
            if let sasl = map["sasl"] { decodeSASL(sasl, into: &config.sasl) }
            if let contacts = map["contact_addresses"] { decodeContactAddresses(contacts, into: &config.contactAddresses) }
            if let serverInfo = map["server_info"] { decodeServerInfo(serverInfo, into: &config.serverInfo) }
        }
        return config
    }

    private func resolve(_ path: String) -> String {
        ConfigPaths.resolve(path, against: baseDirectory)
    }

    // MARK: hosts

    private func decodeHosts(_ value: ConfigValue) -> [HostConfig]? {
        // `hosts:` with nothing under it is an empty list, not "use the default".
        let items: [ConfigValue]
        if value.isNull {
            items = []
        } else if let list = value.list(expected: "a list of hosts") {
            items = list
        } else {
            return nil
        }
        guard !items.isEmpty else {
            value.report("at least one host is required")
            return nil
        }
        var hosts: [HostConfig] = []
        var seen: [String: ConfigPath] = [:]
        var valid = true
        for item in items {
            guard let (host, namePath) = decodeHost(item) else {
                valid = false
                continue
            }
            if let first = seen[host.name] {
                problems.report(namePath, "duplicate host \(quoted(host.name)) (already listed at \(first))")
                valid = false
                continue
            }
            seen[host.name] = namePath
            hosts.append(host)
        }
        return valid ? hosts : nil
    }

    /// One host, and the path of its name (for duplicate reports).
    private func decodeHost(_ item: ConfigValue) -> (HostConfig, ConfigPath)? {
        if case .scalar = item.node, !item.isNull {
            guard let name = hostName(item) else { return nil }
            return (HostConfig(name: name), item.path)
        }
        let decoded: (HostConfig, ConfigPath)?? = item.withMapping(
            expected: "a host name or a mapping with name, certificate, private_key and allow_registration",
            nullIsEmpty: false
        ) { map in
            let nameValue = map["name"]
            let name = nameValue.flatMap(hostName)
            if nameValue == nil {
                item.report("missing required key \"name\"")
            }
            let certificate = map["certificate"].map { $0.nonEmptyString(expected: "a file path").map(resolve) }
            let privateKey = map["private_key"].map { $0.nonEmptyString(expected: "a file path").map(resolve) }
            let allowRegistration = map["allow_registration"].map { $0.bool() }
            switch (certificate, privateKey) {
            case (.some, nil):
                item.report("certificate and private_key must be given together (private_key is missing)")
                return nil
            case (nil, .some):
                item.report("certificate and private_key must be given together (certificate is missing)")
                return nil
            default:
                break
            }
            guard let name, let nameValue else { return nil }
            // `.some(nil)` means the key was present but invalid (already reported).
            if case .some(nil) = certificate { return nil }
            if case .some(nil) = privateKey { return nil }
            if case .some(nil) = allowRegistration { return nil }
            let host = HostConfig(
                name: name,
                certificate: certificate ?? nil,
                privateKey: privateKey ?? nil,
                allowRegistration: (allowRegistration ?? nil) ?? false
            )
            return (host, nameValue.path)
        }
        return decoded ?? nil
    }

    /// A host name: lowercased, non-empty, without `@`, `/` or whitespace.
    private func hostName(_ value: ConfigValue) -> String? {
        guard let raw = value.string(expected: "a host name") else { return nil }
        let name = raw.lowercased()
        if name.isEmpty {
            value.report("host name must not be empty")
            return nil
        }
        if name.contains(where: { $0 == "@" || $0 == "/" || $0.isWhitespace }) {
            value.report("invalid host name \(quoted(raw)): must not contain '@', '/' or whitespace")
            return nil
        }
        return name
    }

    // MARK: listeners

    private func decodeListeners(_ value: ConfigValue, into listeners: inout ListenersConfig) {
        var valid = true
        let read: Void? = value.withMapping { map in
            if let c2s = map["c2s"] {
                if let listener = decodeListener(c2s, default: .defaultC2S) {
                    listeners.c2s = listener
                } else {
                    valid = false
                }
            }
            if let direct = map["c2s_direct_tls"] {
                if let listener = decodeListener(direct, default: .defaultC2SDirectTLS) {
                    listeners.c2sDirectTLS = listener
                } else {
                    valid = false
                }
            }
        }
        guard read != nil, valid else { return }
        if let c2s = listeners.c2s, let direct = listeners.c2sDirectTLS, c2s.port == direct.port,
           c2s.address == direct.address || Self.isWildcard(c2s.address) || Self.isWildcard(direct.address) {
            problems.report(
                value.path.appending(key: "c2s_direct_tls"),
                "port \(direct.port) is already used by listeners.c2s (\(c2s.address):\(c2s.port))"
            )
        }
    }

    private static func isWildcard(_ address: String) -> Bool {
        address == "0.0.0.0" || address == "::" || address == "[::]"
    }

    /// `.some(nil)` for a disabled listener (`false` or null), `nil` after reporting a problem.
    private func decodeListener(_ value: ConfigValue, default defaultListener: ListenerConfig) -> ListenerConfig?? {
        if value.isNull { return .some(nil) }
        if let enabled = value.boolIfPresent {
            return .some(enabled ? defaultListener : nil)
        }
        var listener = defaultListener
        var valid = true
        let parsed: Void? = value.withMapping(expected: "a mapping with address and port, or false to disable") { map in
            if let address = map["address"] {
                if let text = address.nonEmptyString(expected: "an IP address or host name") {
                    if text.contains(where: \.isWhitespace) {
                        address.report("invalid address \(quoted(text)): must not contain whitespace")
                        valid = false
                    } else {
                        listener.address = text
                    }
                } else {
                    valid = false
                }
            }
            if let port = map["port"] {
                if let number = port.int(in: 1...65535) {
                    listener.port = number
                } else {
                    valid = false
                }
            }
        }
        guard parsed != nil, valid else { return nil }
        return .some(listener)
    }

    // MARK: tls, limits, logging, sasl, contact_addresses, server_info

    private func decodeTLS(_ value: ConfigValue, into tls: inout TLSConfig) {
        value.withMapping { map in
            map.read("require_c2s", into: &tls.requireForC2S) { $0.bool() }
            map.read("allow_plain", into: &tls.allowPlainAuth) { $0.bool() }
        }
    }

    private func decodeLimits(_ value: ConfigValue, into limits: inout LimitsConfig) {
        let positive = 1...Int.max
        let timeout = { (value: ConfigValue) in value.positiveNumber(atMost: Self.maximumTimeout, unit: "seconds") }
        var sizesValid = true
        value.withMapping { map in
            let readSize = { (key: String, target: inout Int) in
                if let size = map[key] {
                    if let number = size.int(in: positive) { target = number } else { sizesValid = false }
                }
            }
            readSize("stanza_size_before_auth", &limits.maxStanzaSizeBeforeAuth)
            readSize("stanza_size", &limits.maxStanzaSize)
            map.read("tag_size", into: &limits.maxTagSize) { $0.int(in: positive) }
            map.read("stream_depth", into: &limits.maxDepth) { $0.int(in: positive) }
            map.read("auth_attempts_per_connection", into: &limits.authAttemptsPerConnection) { $0.int(in: positive) }
            map.read("auth_failures_per_address_per_minute", into: &limits.authFailuresPerAddressPerMinute) { $0.int(in: positive) }
            map.read("unauthenticated_timeout", into: &limits.unauthenticatedTimeout, timeout)
            map.read("idle_timeout", into: &limits.idleTimeout, timeout)
            map.read("max_connections", into: &limits.maxConnections) { $0.int(in: positive) }
            map.read("max_connections_per_address", into: &limits.maxConnectionsPerAddress) { $0.int(in: 0...Int.max) }
            map.read("registrations_per_address_per_hour", into: &limits.registrationsPerAddressPerHour) { $0.int(in: positive) }
            map.read("offline_messages_per_user", into: &limits.maxOfflineMessagesPerUser) { $0.int(in: 0...Int.max) }
            map.read("blocklist_items", into: &limits.maxBlocklistItems) { $0.int(in: positive) }
            map.read("client_ping_interval", into: &limits.clientPingInterval, timeout)
            map.read("client_ping_timeout", into: &limits.clientPingTimeout, timeout)
            map.read("outbound_queue", into: &limits.maxOutboundQueue) { $0.int(in: positive) }
        }
        if sizesValid, limits.maxStanzaSizeBeforeAuth > limits.maxStanzaSize {
            problems.report(
                value.path.appending(key: "stanza_size_before_auth"),
                "must not be larger than stanza_size (\(limits.maxStanzaSizeBeforeAuth) > \(limits.maxStanzaSize))"
            )
        }
    }

    private func decodeLogging(_ value: ConfigValue, into logging: inout LoggingConfig) {
        value.withMapping { map in
            map.read("level", into: &logging.level) { level in
                let levels = LoggingConfig.levels
                let expected = "one of " + levels.joined(separator: ", ")
                guard let text = level.string(expected: expected) else { return nil }
                let lowered = text.lowercased()
                guard levels.contains(lowered) else {
                    level.reportMismatch(expected: expected)
                    return nil
                }
                return lowered
            }
        }
    }

    private func decodeSASL(_ value: ConfigValue, into sasl: inout SASLConfig) {
        value.withMapping { map in
            map.read("scram_iterations", into: &sasl.scramIterations) {
                $0.int(in: SASLConfig.minimumScramIterations...SASLConfig.maximumScramIterations)
            }
        }
    }

    /// The message for a contact address that is not a URI.
    static let expectedContactURI = "a URI such as mailto:admin@example.org or xmpp:admin@example.org"

    private func decodeContactAddresses(_ value: ConfigValue, into addresses: inout [String: [String]]) {
        var decoded: [String: [String]] = [:]
        var valid = true
        value.withMapping { map in
            for (key, field) in ServerConfig.contactAddressFields {
                guard let entry = map[key] else { continue }
                if let uris = decodeURIs(entry) {
                    if !uris.isEmpty { decoded[field] = uris }
                } else {
                    valid = false
                }
            }
        }
        if valid { addresses = decoded }
    }

    /// A list of URIs, a single URI (a one-element list) or null (an empty list); `nil` after reporting.
    private func decodeURIs(_ value: ConfigValue) -> [String]? {
        let items: [ConfigValue]
        if value.isNull {
            return []
        } else if case .scalar = value.node {
            items = [value]
        } else if let list = value.list(expected: "a URI or a list of URIs") {
            items = list
        } else {
            return nil
        }
        var uris: [String] = []
        var valid = true
        for item in items {
            guard let uri = item.string(expected: Self.expectedContactURI) else {
                valid = false
                continue
            }
            guard Self.looksLikeURI(uri) else {
                item.reportMismatch(expected: Self.expectedContactURI)
                valid = false
                continue
            }
            uris.append(uri)
        }
        return valid ? uris : nil
    }

    /// A scheme (a letter, then letters, digits, `+`, `.` or `-`), a colon and at least one more
    /// character, with no whitespace or control characters anywhere (RFC 3986 §3).
    static func looksLikeURI(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let colon = scalars.firstIndex(of: ":"), colon > 0, colon + 1 < scalars.count else { return false }
        let schemeValid = scalars[..<colon].enumerated().allSatisfy { offset, scalar in
            switch scalar {
            case "a"..."z", "A"..."Z": true
            case "0"..."9", "+", ".", "-": offset > 0
            default: false
            }
        }
        let restValid = !scalars.contains { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }
        return schemeValid && restValid
    }

    private func decodeServerInfo(_ value: ConfigValue, into serverInfo: inout ServerInfoConfig) {
        value.withMapping { map in
            map.read("show_os", into: &serverInfo.showOperatingSystem) { $0.bool() }
        }
    }
}
