import Foundation
import Testing
@testable import ParleyConfig

let base = "/etc/parley"

/// Parses `yaml`, recording an issue when it fails.
func parse(_ yaml: String, baseDirectory: String = base, sourceLocation: SourceLocation = #_sourceLocation) -> ServerConfig? {
    do {
        return try ServerConfig.parse(yaml: yaml, baseDirectory: baseDirectory)
    } catch {
        Issue.record("unexpected configuration error:\n\(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The problems reported for `yaml`, recording an issue when it parses.
func problems(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
    do {
        let config = try ServerConfig.parse(yaml: yaml, baseDirectory: base)
        Issue.record("expected an error, got \(config)", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.problems
    }
}

@Suite struct DefaultsTests {
    @Test(arguments: ["", "# only a comment\n", "---\n", "{}", "~"])
    func emptyDocumentGivesDefaults(yaml: String) throws {
        let config = try #require(parse(yaml))
        #expect(config == ServerConfig.default(dataDirectory: "/etc/parley/data"))
    }

    @Test func defaultValues() {
        let config = ServerConfig.default(dataDirectory: "/var/lib/parley")
        #expect(config.hosts == [HostConfig(name: "localhost")])
        #expect(config.hosts.first?.allowRegistration == false)
        #expect(config.dataDirectory == "/var/lib/parley")
        #expect(config.listeners.c2s == ListenerConfig(address: "0.0.0.0", port: 5222))
        #expect(config.listeners.c2sDirectTLS == ListenerConfig(address: "0.0.0.0", port: 5223))
        #expect(config.tls == TLSConfig(requireForC2S: true, allowPlainAuth: true))
        #expect(config.limits.maxStanzaSizeBeforeAuth == 65_536)
        #expect(config.limits.maxStanzaSize == 262_144)
        #expect(config.limits.maxTagSize == 16_384)
        #expect(config.limits.maxDepth == 64)
        #expect(config.limits.authAttemptsPerConnection == 3)
        #expect(config.limits.authFailuresPerAddressPerMinute == 20)
        #expect(config.limits.unauthenticatedTimeout == 30)
        #expect(config.limits.idleTimeout == 600)
        #expect(config.limits.maxConnections == 20_000)
        #expect(config.limits.maxConnectionsPerAddress == 0)
        #expect(config.limits.registrationsPerAddressPerHour == 5)
        #expect(config.limits.maxOfflineMessagesPerUser == 1000)
        #expect(config.limits.maxBlocklistItems == 1000)
        #expect(config.limits.clientPingInterval == 300)
        #expect(config.limits.clientPingTimeout == 60)
        #expect(config.limits.maxOutboundQueue == 10_000)
        #expect(config.limits.rosterCacheSize == 4096)
        #expect(config.logging.level == "info")
        #expect(config.sasl.scramIterations == 10_000)
        #expect(config.contactAddresses.isEmpty)
        #expect(config.serverInfo.showOperatingSystem == false)
    }

    @Test func emptySectionsKeepDefaults() throws {
        let config = try #require(parse("listeners:\ntls:\nlimits: {}\nlogging:\nsasl:\ncontact_addresses:\nserver_info: {}\n"))
        #expect(config == ServerConfig.default(dataDirectory: "/etc/parley/data"))
    }
}

@Suite struct FullDocumentTests {
    @Test func everyKeyIsRead() throws {
        let yaml = """
        hosts:
          - name: Example.ORG
            certificate: tls/example.crt
            private_key: /secure/example.key
            allow_registration: true
          - chat.example.net
          - name: closed.example.net
            allow_registration: false
        data_directory: /var/lib/parley
        listeners:
          c2s:
            address: "::"
            port: 15222
          c2s_direct_tls:
            address: 127.0.0.1
            port: 15223
        tls:
          require_c2s: false
          allow_plain: no
        limits:
          stanza_size_before_auth: 10000
          stanza_size: 500_000
          tag_size: 2048
          stream_depth: 32
          auth_attempts_per_connection: 5
          auth_failures_per_address_per_minute: 7
          unauthenticated_timeout: 12.5
          idle_timeout: 300
          max_connections: 100
          max_connections_per_address: 10
          registrations_per_address_per_hour: 2
          offline_messages_per_user: 0
          blocklist_items: 50
          client_ping_interval: 90
          client_ping_timeout: 7.5
          outbound_queue: 500
        logging:
          level: DEBUG
        sasl:
          scram_iterations: 4096
        contact_addresses:
          admin: [mailto:admin@example.org, xmpp:admin@example.org]
          abuse: mailto:abuse@example.org
          feedback: []
          sales: [https://example.org/sales]
          security: [mailto:security@example.org]
          status: [https://status.example.org]
          support: [xmpp:support@muc.example.org?join, tel:+1-555-0100]
        server_info:
          show_os: true
        """
        let config = try #require(parse(yaml))
        let expected = ServerConfig(
            hosts: [
                HostConfig(
                    name: "example.org", certificate: "/etc/parley/tls/example.crt", privateKey: "/secure/example.key",
                    allowRegistration: true
                ),
                HostConfig(name: "chat.example.net"),
                HostConfig(name: "closed.example.net", allowRegistration: false),
            ],
            dataDirectory: "/var/lib/parley",
            listeners: ListenersConfig(
                c2s: ListenerConfig(address: "::", port: 15222),
                c2sDirectTLS: ListenerConfig(address: "127.0.0.1", port: 15223)
            ),
            tls: TLSConfig(requireForC2S: false, allowPlainAuth: false),
            limits: LimitsConfig(
                maxStanzaSizeBeforeAuth: 10_000,
                maxStanzaSize: 500_000,
                maxTagSize: 2048,
                maxDepth: 32,
                authAttemptsPerConnection: 5,
                authFailuresPerAddressPerMinute: 7,
                unauthenticatedTimeout: 12.5,
                idleTimeout: 300,
                maxConnections: 100,
                maxConnectionsPerAddress: 10,
                registrationsPerAddressPerHour: 2,
                maxOfflineMessagesPerUser: 0,
                maxBlocklistItems: 50,
                clientPingInterval: 90,
                clientPingTimeout: 7.5,
                maxOutboundQueue: 500
            ),
            logging: LoggingConfig(level: "debug"),
            sasl: SASLConfig(scramIterations: 4096),
            contactAddresses: [
                "admin-addresses": ["mailto:admin@example.org", "xmpp:admin@example.org"],
                "abuse-addresses": ["mailto:abuse@example.org"],
                "sales-addresses": ["https://example.org/sales"],
                "security-addresses": ["mailto:security@example.org"],
                "status-addresses": ["https://status.example.org"],
                "support-addresses": ["xmpp:support@muc.example.org?join", "tel:+1-555-0100"],
            ],
            serverInfo: ServerInfoConfig(showOperatingSystem: true)
        )
        #expect(config == expected)
    }

    @Test func flowStyleAndAnchorsWork() throws {
        let yaml = """
        listeners: { c2s: &l { address: 10.0.0.1, port: 5000 }, c2s_direct_tls: { port: 5001 } }
        hosts: [a.example, { name: b.example }]
        """
        let config = try #require(parse(yaml))
        #expect(config.listeners.c2s == ListenerConfig(address: "10.0.0.1", port: 5000))
        #expect(config.listeners.c2sDirectTLS == ListenerConfig(address: "0.0.0.0", port: 5001))
        #expect(config.hosts.map(\.name) == ["a.example", "b.example"])
    }
}

@Suite struct UnknownKeyTests {
    @Test func unknownKeysAreReportedWithTheirPath() {
        let yaml = """
        bogus: 1
        hosts:
          - name: example.org
            foo: bar
        listeners:
          c2s:
            port: 5222
            backlog: 10
          bosh: {}
        limits:
          stanza_sise: 100
        """
        #expect(problems(yaml) == [
            "hosts[0].foo: unknown key",
            "listeners.c2s.backlog: unknown key",
            "listeners.bosh: unknown key",
            "limits.stanza_sise: unknown key (did you mean \"stanza_size\"?)",
            "bogus: unknown key",
        ])
    }

    @Test func oddKeysAreQuotedInThePath() {
        #expect(problems("tls:\n  \"require c2s\": true\n") == [
            "tls[\"require c2s\"]: unknown key (did you mean \"require_c2s\"?)",
        ])
        #expect(problems("<<: {}\n") == ["[\"<<\"]: unknown key (YAML merge keys are not supported)"])
    }
}

@Suite struct ErrorTests {
    @Test func allProblemsAreReportedTogether() throws {
        let yaml = """
        hosts: []
        listeners:
          c2s:
            port: abc
        tls:
          require_c2s: maybe
        limits:
          idle_timeout: 0
        logging:
          level: verbose
        sasl:
          scram_iterations: 1000
        extra: true
        """
        let found = problems(yaml)
        #expect(found == [
            "hosts: at least one host is required",
            "listeners.c2s.port: expected an integer between 1 and 65535, got \"abc\"",
            "tls.require_c2s: expected true or false, got \"maybe\"",
            "limits.idle_timeout: expected a number of seconds greater than 0 and at most 31536000, got 0",
            "logging.level: expected one of trace, debug, info, notice, warning, error, critical, got \"verbose\"",
            "sasl.scram_iterations: expected an integer between 4096 and 10000000, got 1000",
            "extra: unknown key",
        ])
        let error = try #require(throws: ConfigError.self) {
            try ServerConfig.parse(yaml: yaml, baseDirectory: base)
        }
        #expect(error.description == found.joined(separator: "\n"))
    }

    @Test func wrongTypes() {
        #expect(problems("listeners:\n  c2s:\n    port: \"5222\"\n") == [
            "listeners.c2s.port: expected an integer between 1 and 65535, got \"5222\"",
        ])
        #expect(problems("listeners:\n  c2s:\n    port: 70000\n") == [
            "listeners.c2s.port: expected an integer between 1 and 65535, got 70000",
        ])
        #expect(problems("listeners:\n  c2s:\n    port: 52.5\n") == [
            "listeners.c2s.port: expected an integer between 1 and 65535, got 52.5",
        ])
        #expect(problems("listeners:\n  c2s: 5222\n") == [
            "listeners.c2s: expected a mapping with address and port, or false to disable, got 5222",
        ])
        #expect(problems("hosts: example.org\n") == ["hosts: expected a list of hosts, got \"example.org\""])
        #expect(problems("limits: [1, 2]\n") == ["limits: expected a mapping, got a list"])
        #expect(problems("tls:\n  allow_plain: \"true\"\n") == ["tls.allow_plain: expected true or false, got \"true\""])
        #expect(problems("tls:\n  allow_plain:\n") == ["tls.allow_plain: expected true or false, got null"])
        #expect(problems("limits:\n  stanza_size: 0\n  tag_size: -1\n  max_connections_per_address: -1\n") == [
            "limits.stanza_size: expected a positive integer, got 0",
            "limits.tag_size: expected a positive integer, got -1",
            "limits.max_connections_per_address: expected a non-negative integer, got -1",
        ])
        #expect(problems("limits:\n  unauthenticated_timeout: soon\n  idle_timeout: .inf\n") == [
            "limits.unauthenticated_timeout: expected a number of seconds greater than 0 and at most 31536000, got \"soon\"",
            "limits.idle_timeout: expected a number of seconds greater than 0 and at most 31536000, got .inf",
        ])
        #expect(problems("data_directory: [a]\n") == ["data_directory: expected a directory path, got a list"])
        #expect(problems("data_directory: \"\"\n") == ["data_directory: expected a directory path, got \"\""])
        #expect(problems("- a\n- b\n") == ["(root): expected a mapping of settings, got a list"])
        #expect(problems("just text") == ["(root): expected a mapping of settings, got \"just text\""])
    }

    @Test func crossFieldValidation() {
        #expect(problems("limits:\n  stanza_size_before_auth: 300000\n") == [
            "limits.stanza_size_before_auth: must not be larger than stanza_size (300000 > 262144)",
        ])
        #expect(problems("listeners:\n  c2s_direct_tls:\n    port: 5222\n") == [
            "listeners.c2s_direct_tls: port 5222 is already used by listeners.c2s (0.0.0.0:5222)",
        ])
        // Different concrete addresses may share a port.
        let config = parse("""
        listeners:
          c2s: { address: 127.0.0.1, port: 5222 }
          c2s_direct_tls: { address: 127.0.0.2, port: 5222 }
        """)
        #expect(config?.listeners.c2sDirectTLS?.port == 5222)
    }

    @Test func yamlSyntaxErrorHasLineAndColumn() throws {
        let found = problems("""
        tls:
          require_c2s: true
          allow_plain: [true
        limits: {}
        """)
        #expect(found.count == 1)
        let first = try #require(found.first)
        #expect(first.hasPrefix("line 4, column "), "\(first)")
        #expect(first.contains("invalid YAML"))
    }

    @Test func yamlSyntaxErrorForBadIndentation() throws {
        let found = problems("tls:\n  require_c2s: true\n   allow_plain: true\n")
        let first = try #require(found.first)
        #expect(found.count == 1)
        #expect(first.hasPrefix("line 3, column "), "\(first)")
        #expect(first.contains("invalid YAML: mapping values are not allowed in this context"), "\(first)")
    }

    @Test func duplicateKeysAreSyntaxErrors() throws {
        let found = problems("tls:\n  allow_plain: true\n  allow_plain: false\n")
        #expect(found == ["line 2, column 3: invalid YAML: duplicate key \"allow_plain\""])
    }

    @Test func multipleDocumentsAreRejected() throws {
        let found = problems("tls: {}\n---\nlimits: {}\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("but found another document") == true)
    }
}

@Suite struct HostTests {
    @Test func hostAsStringAndAsMapping() throws {
        let config = try #require(parse("""
        hosts:
          - Example.org
          - name: chat.example.org
          - name: secure.example.org
            certificate: /tls/secure.pem
            private_key: /tls/secure.key
        """))
        #expect(config.hosts == [
            HostConfig(name: "example.org"),
            HostConfig(name: "chat.example.org"),
            HostConfig(name: "secure.example.org", certificate: "/tls/secure.pem", privateKey: "/tls/secure.key"),
        ])
    }

    @Test func invalidHosts() {
        let yaml = """
        hosts:
          - example.org
          - EXAMPLE.org
          - name: user@example.org
          - certificate: a.pem
          - name: b.example
            certificate: b.pem
          - name: c.example
            private_key: c.key
          - "with space"
          - ~
          - name: ""
          - yes
        """
        #expect(problems(yaml) == [
            "hosts[1]: duplicate host \"example.org\" (already listed at hosts[0])",
            "hosts[2].name: invalid host name \"user@example.org\": must not contain '@', '/' or whitespace",
            "hosts[3]: missing required key \"name\"",
            "hosts[3]: certificate and private_key must be given together (private_key is missing)",
            "hosts[4]: certificate and private_key must be given together (private_key is missing)",
            "hosts[5]: certificate and private_key must be given together (certificate is missing)",
            "hosts[6]: invalid host name \"with space\": must not contain '@', '/' or whitespace",
            "hosts[7]: expected a host name or a mapping with name, certificate, private_key and allow_registration, got null",
            "hosts[8].name: host name must not be empty",
            "hosts[9]: expected a host name, got yes",
        ])
    }

    @Test func nullHostsIsAnError() {
        #expect(problems("hosts:\n") == ["hosts: at least one host is required"])
    }
}

@Suite struct ListenerTests {
    @Test(arguments: ["false", "null", "~", "", "off"])
    func disabledListener(value: String) throws {
        let config = try #require(parse("listeners:\n  c2s_direct_tls: \(value)\n"))
        #expect(config.listeners.c2sDirectTLS == nil)
        #expect(config.listeners.c2s == .defaultC2S)
    }

    @Test func trueMeansDefaultListener() throws {
        let config = try #require(parse("listeners:\n  c2s: false\n  c2s_direct_tls: true\n"))
        #expect(config.listeners.c2s == nil)
        #expect(config.listeners.c2sDirectTLS == .defaultC2SDirectTLS)
    }

    @Test func partialListenerKeepsDefaults() throws {
        let config = try #require(parse("listeners:\n  c2s:\n    address: 192.0.2.1\n"))
        #expect(config.listeners.c2s == ListenerConfig(address: "192.0.2.1", port: 5222))
    }
}

@Suite struct PathTests {
    @Test func relativePathsAreResolvedAgainstBaseDirectory() throws {
        let config = try #require(parse("""
        data_directory: var/db
        hosts:
          - name: a.example
            certificate: ./tls/a.crt
            private_key: ../keys/a.key
          - name: b.example
            certificate: /abs/b.crt
            private_key: /abs//b.key
        """, baseDirectory: "/srv/parley/conf"))
        #expect(config.dataDirectory == "/srv/parley/conf/var/db")
        #expect(config.hosts[0].certificate == "/srv/parley/conf/tls/a.crt")
        #expect(config.hosts[0].privateKey == "/srv/parley/keys/a.key")
        #expect(config.hosts[1].certificate == "/abs/b.crt")
        #expect(config.hosts[1].privateKey == "/abs/b.key")
    }

    @Test func defaultDataDirectoryIsRelativeToBase() throws {
        let config = try #require(parse("", baseDirectory: "/srv/parley/"))
        #expect(config.dataDirectory == "/srv/parley/data")
    }

    @Test func normalisation() {
        #expect(ConfigPaths.resolve("a/./b/../c", against: "/x") == "/x/a/c")
        #expect(ConfigPaths.resolve("../../..", against: "/x") == "/")
        #expect(ConfigPaths.resolve("data", against: ".") == "data")
        #expect(ConfigPaths.resolve("../data", against: "conf") == "data")
        #expect(ConfigPaths.resolve("/abs", against: "/x") == "/abs")
        #expect(ConfigPaths.directory(of: "/etc/parley.yaml") == "/etc")
        #expect(ConfigPaths.directory(of: "/parley.yaml") == "/")
    }
}

@Suite struct FileTests {
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // ParleyConfigTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // repository root
        .path

    @Test func exampleFileParsesToTheDefaults() throws {
        let path = Self.repositoryRoot + "/parley.example.yaml"
        let config: ServerConfig
        do {
            config = try ServerConfig.load(path: path)
        } catch {
            Issue.record("parley.example.yaml has problems:\n\(error)")
            return
        }
        #expect(config == ServerConfig.default(dataDirectory: Self.repositoryRoot + "/data"))
    }

    @Test func exampleFileShowsTheServiceSettings() throws {
        let text = try String(contentsOfFile: Self.repositoryRoot + "/parley.example.yaml", encoding: .utf8)
        let keys = Set(text.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.drop(while: { $0 == " " })
            guard !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { return nil }
            return String(trimmed[..<colon]).replacingOccurrences(of: "- ", with: "")
        })
        let expected = [
            "allow_registration", "registrations_per_address_per_hour", "offline_messages_per_user", "blocklist_items",
            "client_ping_interval", "client_ping_timeout", "outbound_queue", "roster_cache_size", "contact_addresses", "server_info", "show_os",
        ] + ServerConfig.contactAddressFields.map(\.key)
        for key in expected {
            #expect(keys.contains(key), "parley.example.yaml does not show \(key)")
        }
    }

    @Test func loadResolvesAgainstTheFilesDirectory() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("parley-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("parley.yaml")
        try "data_directory: state\n".write(to: file, atomically: true, encoding: .utf8)
        let config = try ServerConfig.load(path: file.path)
        #expect(config.dataDirectory == ConfigPaths.normalize(directory.path) + "/state")
    }

    @Test func missingFile() {
        #expect(throws: ConfigError(problems: ["cannot read configuration file \"/nonexistent/parley.yaml\": no such file"])) {
            try ServerConfig.load(path: "/nonexistent/parley.yaml")
        }
    }
}
