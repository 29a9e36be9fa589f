// Loading and validating the YAML configuration file.

import Foundation
import Yams

extension ServerConfig {
    /// Reads and validates the configuration file at `path`. Relative paths inside it (`data_directory`,
    /// certificates, keys, `s2s.ca_file`) are resolved against the directory containing the file.
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
    /// certificates, keys, `s2s.ca_file`) are resolved against `baseDirectory`. An empty document gives the defaults.
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
            // Port clashes are checked once `s2s.enabled` is known (the s2s listeners only count when on).
            var listenersToCheck: ConfigPath?
            if let listeners = map["listeners"], decodeListeners(listeners, into: &config.listeners) {
                listenersToCheck = listeners.path
            }
            if let tls = map["tls"] { decodeTLS(tls, into: &config.tls) }
            if let s2s = map["s2s"] { decodeS2S(s2s, into: &config.s2s) }
            if let path = listenersToCheck {
                checkListenerPorts(config.listeners, at: path, federation: config.s2s.enabled)
            }
            if let limits = map["limits"] { decodeLimits(limits, into: &config.limits) }
            if let logging = map["logging"] { decodeLogging(logging, into: &config.logging) }
            if let sasl = map["sasl"] { decodeSASL(sasl, into: &config.sasl) }
            if let contacts = map["contact_addresses"] { decodeContactAddresses(contacts, into: &config.contactAddresses) }
            if let serverInfo = map["server_info"] { decodeServerInfo(serverInfo, into: &config.serverInfo) }
            if let disabled = map["modules_disabled"], let names = decodeDisabledModules(disabled) {
                config.disabledModules = names
            }
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
        return domainName(raw, at: value.path, kind: "host name")
    }

    /// `raw` checked like a host name (reported at `path` as a `kind`) and lowercased.
    private func domainName(_ raw: String, at path: ConfigPath, kind: String) -> String? {
        let name = raw.lowercased()
        if name.isEmpty {
            problems.report(path, "\(kind) must not be empty")
            return nil
        }
        if name.contains(where: { $0 == "@" || $0 == "/" || $0.isWhitespace }) {
            problems.report(path, "invalid \(kind) \(quoted(raw)): must not contain '@', '/' or whitespace")
            return nil
        }
        return name
    }

    // MARK: listeners

    /// Whether every listener was valid (only then are ports checked for clashes).
    private func decodeListeners(_ value: ConfigValue, into listeners: inout ListenersConfig) -> Bool {
        var valid = true
        let read: Void? = value.withMapping { map in
            let readListener = { (key: String, defaultListener: ListenerConfig, target: inout ListenerConfig?) in
                guard let entry = map[key] else { return }
                if let listener = decodeListener(entry, default: defaultListener) {
                    target = listener
                } else {
                    valid = false
                }
            }
            readListener("c2s", .defaultC2S, &listeners.c2s)
            readListener("c2s_direct_tls", .defaultC2SDirectTLS, &listeners.c2sDirectTLS)
            readListener("s2s", .defaultS2S, &listeners.s2s)
            readListener("s2s_direct_tls", .defaultS2SDirectTLS, &listeners.s2sDirectTLS)
        }
        return read != nil && valid
    }

    /// Reports each listener that would bind a port already taken by an earlier one (in the order
    /// c2s, c2s_direct_tls, s2s, s2s_direct_tls) on the same or an overlapping address. The s2s
    /// listeners are left out when federation is off: they are not opened.
    private func checkListenerPorts(_ listeners: ListenersConfig, at path: ConfigPath, federation: Bool) {
        let candidates: [(key: String, listener: ListenerConfig?)] = [
            ("c2s", listeners.c2s),
            ("c2s_direct_tls", listeners.c2sDirectTLS),
            ("s2s", federation ? listeners.s2s : nil),
            ("s2s_direct_tls", federation ? listeners.s2sDirectTLS : nil),
        ]
        var opened: [(key: String, listener: ListenerConfig)] = []
        for case let (key, listener?) in candidates {
            if let (otherKey, other) = opened.first(where: { Self.clash($0.listener, listener) }) {
                problems.report(
                    path.appending(key: key),
                    "port \(listener.port) is already used by \(path.appending(key: otherKey)) (\(other.address):\(other.port))"
                )
            }
            opened.append((key, listener))
        }
    }

    private static func clash(_ a: ListenerConfig, _ b: ListenerConfig) -> Bool {
        a.port == b.port && (a.address == b.address || isWildcard(a.address) || isWildcard(b.address))
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
            map.read("roster_cache_size", into: &limits.rosterCacheSize) { $0.int(in: 0...Int.max) }
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

    // MARK: modules_disabled

    /// Prosody's `modules_disabled`: names of optional modules to leave out. Null or `[]` is none.
    private func decodeDisabledModules(_ value: ConfigValue) -> Set<String>? {
        if value.isNull { return [] }
        guard let items = value.list(expected: "a list of module names") else { return nil }
        var names: Set<String> = []
        var valid = true
        for item in items {
            guard let name = item.nonEmptyString(expected: "a module name") else {
                valid = false
                continue
            }
            if ServerConfig.requiredModules.contains(name) {
                item.report("the \(name) module cannot be disabled: the server needs it")
                valid = false
            } else if ServerConfig.optionalModules[name] == nil {
                let known = ServerConfig.optionalModules.keys.sorted().joined(separator: ", ")
                item.report("unknown module \(quoted(name)); the modules that can be disabled are \(known)")
                valid = false
            } else {
                names.insert(name)
            }
        }
        return valid ? names : nil
    }

    // MARK: s2s

    private func decodeS2S(_ value: ConfigValue, into s2s: inout S2SConfig) {
        let positive = 1...Int.max
        let timeout = { (value: ConfigValue) in value.positiveNumber(atMost: Self.maximumTimeout, unit: "seconds") }
        value.withMapping { map in
            map.read("enabled", into: &s2s.enabled) { $0.bool() }
            map.read("policy", into: &s2s.policy, policy)
            map.read("domain_policies", into: &s2s.domainPolicies) { policies in
                decodeDomainMap(policies, expected: "a mapping of domain names to policies", policy)
            }
            if let caFile = map["ca_file"] {
                // Null, like leaving the key out, means the system store.
                if caFile.isNull {
                    s2s.caFile = nil
                } else if let path = caFile.nonEmptyString(expected: "a file path") {
                    s2s.caFile = resolve(path)
                }
            }
            map.read("require_tls", into: &s2s.requireTLS) { $0.bool() }
            map.read("connect_timeout", into: &s2s.connectTimeout, timeout)
            map.read("timeout", into: &s2s.timeout, timeout)
            map.read("idle_timeout", into: &s2s.idleTimeout, timeout)
            map.read("max_queued_stanzas", into: &s2s.maxQueuedStanzas) { $0.int(in: positive) }
            map.read("max_connections_per_domain", into: &s2s.maxConnectionsPerDomain) { $0.int(in: positive) }
            map.read("stanza_size", into: &s2s.maxStanzaSize) { $0.int(in: positive) }
            map.read("overrides", into: &s2s.overrides) { overrides in
                decodeDomainMap(overrides, expected: "a mapping of domain names to endpoints", decodeEndpoints)
            }
        }
    }

    private func policy(_ value: ConfigValue) -> S2SPolicy? {
        let expected = "one of " + S2SPolicy.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = value.string(expected: expected) else { return nil }
        guard let policy = S2SPolicy(rawValue: text.lowercased()) else {
            value.reportMismatch(expected: expected)
            return nil
        }
        return policy
    }

    /// A mapping keyed by domain name (checked like a host name, lowercased, unique) with each value
    /// read by `decodeItem`; null is an empty mapping. `nil` after reporting any problem.
    private func decodeDomainMap<T>(
        _ value: ConfigValue,
        expected: String,
        _ decodeItem: (ConfigValue) -> T?
    ) -> [String: T]? {
        var decoded: [String: T] = [:]
        var seen: [String: ConfigPath] = [:]
        var valid = true
        let read: Void? = value.withMapping(expected: expected) { map in
            for key in map.keys {
                guard let item = map[key] else { continue }
                let name = domainName(key, at: item.path, kind: "domain name")
                let result = decodeItem(item)
                guard let name else {
                    valid = false
                    continue
                }
                if let first = seen[name] {
                    item.report("duplicate domain \(quoted(name)) (already listed at \(first))")
                    valid = false
                    continue
                }
                seen[name] = item.path
                if let result {
                    decoded[name] = result
                } else {
                    valid = false
                }
            }
        }
        guard read != nil, valid else { return nil }
        return decoded
    }

    /// What an item of an `s2s.overrides` list may be.
    static let expectedEndpoint = "\"host:port\" or a mapping with host, port and direct_tls"

    /// A list of endpoints, or a single one (a one-element list); `nil` after reporting.
    private func decodeEndpoints(_ value: ConfigValue) -> [S2SEndpointConfig]? {
        let items: [ConfigValue]
        switch value.node {
        case .scalar where !value.isNull, .mapping:
            items = [value]
        default:
            if value.isNull {
                items = []
            } else if let list = value.list(expected: "an endpoint or a list of endpoints") {
                items = list
            } else {
                return nil
            }
        }
        guard !items.isEmpty else {
            value.report("at least one endpoint is required")
            return nil
        }
        var endpoints: [S2SEndpointConfig] = []
        var valid = true
        for item in items {
            if let endpoint = decodeEndpoint(item) {
                endpoints.append(endpoint)
            } else {
                valid = false
            }
        }
        return valid ? endpoints : nil
    }

    private func decodeEndpoint(_ item: ConfigValue) -> S2SEndpointConfig? {
        if case .scalar = item.node {
            guard let text = item.string(expected: Self.expectedEndpoint) else { return nil }
            return endpoint(shorthand: text, item)
        }
        let decoded: S2SEndpointConfig?? = item.withMapping(expected: Self.expectedEndpoint, nullIsEmpty: false) { map in
            let hostValue = map["host"]
            let host = hostValue.flatMap(endpointHost)
            if hostValue == nil {
                item.report("missing required key \"host\"")
            }
            let port = map["port"].map { $0.int(in: 1...65535) }
            let directTLS = map["direct_tls"].map { $0.bool() }
            guard let host else { return nil }
            // `.some(nil)` means the key was present but invalid (already reported).
            if case .some(nil) = port { return nil }
            if case .some(nil) = directTLS { return nil }
            return S2SEndpointConfig(
                host: host,
                port: (port ?? nil) ?? S2SEndpointConfig.defaultPort,
                directTLS: (directTLS ?? nil) ?? false
            )
        }
        return decoded ?? nil
    }

    /// The `host` of an endpoint mapping: non-empty, without whitespace; brackets around an IPv6
    /// address are dropped.
    private func endpointHost(_ value: ConfigValue) -> String? {
        guard let text = value.nonEmptyString(expected: "a host name or IP address") else { return nil }
        if text.contains(where: \.isWhitespace) {
            value.report("invalid host \(quoted(text)): must not contain whitespace")
            return nil
        }
        if text.count > 2, text.hasPrefix("["), text.hasSuffix("]") {
            return String(text.dropFirst().dropLast())
        }
        return text
    }

    /// A STARTTLS endpoint written `host`, `host:port` or `[IPv6 address]:port`.
    private func endpoint(shorthand text: String, _ value: ConfigValue) -> S2SEndpointConfig? {
        let invalid = { (reason: String) -> S2SEndpointConfig? in
            value.report("invalid endpoint \(quoted(text)): \(reason)")
            return nil
        }
        if text.allSatisfy(\.isWhitespace) {
            value.reportMismatch(expected: Self.expectedEndpoint)
            return nil
        }
        if text.contains(where: \.isWhitespace) {
            return invalid("must not contain whitespace")
        }
        let host: Substring
        let port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return invalid("missing ']' after the IPv6 address")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                port = nil
            } else if rest.hasPrefix(":") {
                port = rest.dropFirst()
            } else {
                return invalid("expected ':' and a port after ']'")
            }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            switch parts.count {
            case 1:
                host = parts[0]
                port = nil
            case 2:
                host = parts[0]
                port = parts[1]
            default:
                return invalid("write IPv6 addresses in brackets, e.g. \"[2001:db8::1]:5269\"")
            }
        }
        if host.isEmpty {
            return invalid("the host must not be empty")
        }
        guard let port else {
            return S2SEndpointConfig(host: String(host))
        }
        guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCIIDigit),
              let number = Int(port), (1...65535).contains(number) else {
            return invalid("the port must be an integer between 1 and 65535")
        }
        return S2SEndpointConfig(host: String(host), port: number)
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
