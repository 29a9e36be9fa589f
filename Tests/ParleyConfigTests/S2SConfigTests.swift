// Tests for federation settings: the `s2s` section and the `listeners.s2s` / `listeners.s2s_direct_tls`
// listeners, including port clashes across all four listeners.
// `parse`, `problems` and `base` are shared with ServerConfigTests.swift.

import Foundation
import Testing
@testable import ParleyConfig

private let secondsExpected = "expected a number of seconds greater than 0 and at most 31536000"
private let policyExpected = "expected one of allow_dialback, require_valid_certificate"
private let endpointExpected = "expected \"host:port\" or a mapping with host, port and direct_tls"

@Suite struct S2SDefaultsTests {
    @Test func defaultValues() {
        let s2s = S2SConfig()
        #expect(s2s.enabled == true)
        #expect(s2s.policy == .allowDialback)
        #expect(s2s.domainPolicies == [:])
        #expect(s2s.caFile == nil)
        #expect(s2s.effectiveCAFile == "/etc/ssl/certs/ca-certificates.crt")
        #expect(S2SConfig.systemCAFile == "/etc/ssl/certs/ca-certificates.crt")
        #expect(s2s.requireTLS == true)
        #expect(s2s.connectTimeout == 10)
        #expect(s2s.timeout == 30)
        #expect(s2s.idleTimeout == 300)
        #expect(s2s.maxQueuedStanzas == 1000)
        #expect(s2s.maxConnectionsPerDomain == 4)
        #expect(s2s.maxStanzaSize == 262_144)
        #expect(s2s.overrides == [:])
        #expect(s2s.policy(for: "example.org") == .allowDialback)
    }

    @Test func serverDefaults() {
        let config = ServerConfig.default(dataDirectory: "/var/lib/parley")
        #expect(config.s2s == S2SConfig())
        #expect(config.listeners.s2s == ListenerConfig(address: "0.0.0.0", port: 5269))
        #expect(config.listeners.s2sDirectTLS == nil)
        #expect(ListenerConfig.defaultS2S == ListenerConfig(address: "0.0.0.0", port: 5269))
        #expect(ListenerConfig.defaultS2SDirectTLS == ListenerConfig(address: "0.0.0.0", port: 5270))
        #expect(S2SEndpointConfig(host: "x.example") == S2SEndpointConfig(host: "x.example", port: 5269, directTLS: false))
        #expect(S2SEndpointConfig.defaultPort == 5269)
    }

    @Test(arguments: ["s2s:\n", "s2s: {}\n", "s2s: ~\n", "s2s:\n  domain_policies:\n  ca_file:\n  overrides: {}\n"])
    func emptySectionKeepsDefaults(yaml: String) throws {
        let config = try #require(parse(yaml))
        #expect(config == ServerConfig.default(dataDirectory: "/etc/parley/data"))
    }

    @Test func policyRawValuesAreTheYAMLSpellings() {
        #expect(S2SPolicy.allCases == [.allowDialback, .requireValidCertificate])
        #expect(S2SPolicy.allowDialback.rawValue == "allow_dialback")
        #expect(S2SPolicy.requireValidCertificate.rawValue == "require_valid_certificate")
    }
}

@Suite struct S2SSectionTests {
    @Test func everyKeyIsRead() throws {
        let config = try #require(parse("""
        listeners:
          s2s:
            address: "::"
            port: 15269
          s2s_direct_tls:
            address: 192.0.2.10
            port: 15270
        s2s:
          enabled: false
          policy: require_valid_certificate
          domain_policies:
            Legacy.Example: allow_dialback
            secure.example: require_valid_certificate
          ca_file: tls/ca.pem
          require_tls: no
          connect_timeout: 2.5
          timeout: 60
          idle_timeout: 3600
          max_queued_stanzas: 1
          max_connections_per_domain: 1
          stanza_size: 100_000
          overrides:
            Example.ORG:
              - host: xmpp1.example.org
                port: 5999
                direct_tls: true
              - xmpp2.example.org:5269
            example.net: "[2001:db8::1]:5270"
        """))
        #expect(config.listeners == ListenersConfig(
            s2s: ListenerConfig(address: "::", port: 15269),
            s2sDirectTLS: ListenerConfig(address: "192.0.2.10", port: 15270)
        ))
        #expect(config.s2s == S2SConfig(
            enabled: false,
            policy: .requireValidCertificate,
            domainPolicies: ["legacy.example": .allowDialback, "secure.example": .requireValidCertificate],
            caFile: "/etc/parley/tls/ca.pem",
            requireTLS: false,
            connectTimeout: 2.5,
            timeout: 60,
            idleTimeout: 3600,
            maxQueuedStanzas: 1,
            maxConnectionsPerDomain: 1,
            maxStanzaSize: 100_000,
            overrides: [
                "example.org": [
                    S2SEndpointConfig(host: "xmpp1.example.org", port: 5999, directTLS: true),
                    S2SEndpointConfig(host: "xmpp2.example.org", port: 5269),
                ],
                "example.net": [S2SEndpointConfig(host: "2001:db8::1", port: 5270)],
            ]
        ))
        // Everything else keeps its default.
        var expected = ServerConfig.default(dataDirectory: "/etc/parley/data")
        expected.listeners = config.listeners
        expected.s2s = config.s2s
        #expect(config == expected)
    }

    @Test(arguments: [("true", true), ("false", false), ("yes", true), ("off", false)])
    func booleans(value: String, expected: Bool) throws {
        let config = try #require(parse("s2s:\n  enabled: \(value)\n  require_tls: \(value)\n"))
        #expect(config.s2s == S2SConfig(enabled: expected, requireTLS: expected))
    }

    @Test func invalidBooleans() {
        #expect(problems("s2s:\n  enabled: \"true\"\n  require_tls: 1\n") == [
            "s2s.enabled: expected true or false, got \"true\"",
            "s2s.require_tls: expected true or false, got 1",
        ])
        #expect(problems("s2s:\n  enabled:\n  require_tls: [true]\n") == [
            "s2s.enabled: expected true or false, got null",
            "s2s.require_tls: expected true or false, got a list",
        ])
    }

    @Test(arguments: [
        ("allow_dialback", S2SPolicy.allowDialback),
        ("require_valid_certificate", .requireValidCertificate),
        ("Require_Valid_Certificate", .requireValidCertificate),
    ])
    func policy(value: String, expected: S2SPolicy) throws {
        let config = try #require(parse("s2s:\n  policy: \(value)\n"))
        #expect(config.s2s.policy == expected)
        #expect(config.s2s.policy(for: "any.example") == expected)
    }

    @Test func invalidPolicy() {
        #expect(problems("s2s:\n  policy: dialback\n") == ["s2s.policy: \(policyExpected), got \"dialback\""])
        #expect(problems("s2s:\n  policy: allow-dialback\n") == ["s2s.policy: \(policyExpected), got \"allow-dialback\""])
        #expect(problems("s2s:\n  policy:\n") == ["s2s.policy: \(policyExpected), got null"])
        #expect(problems("s2s:\n  policy: true\n") == ["s2s.policy: \(policyExpected), got true"])
        #expect(problems("s2s:\n  policy: [allow_dialback]\n") == ["s2s.policy: \(policyExpected), got a list"])
    }

    @Test func caFile() throws {
        #expect(try #require(parse("s2s:\n  ca_file: /etc/ssl/private-ca.pem\n")).s2s.caFile == "/etc/ssl/private-ca.pem")
        #expect(try #require(parse("s2s:\n  ca_file: ../ca//roots.pem\n")).s2s.caFile == "/etc/ca/roots.pem")
        let relative = try #require(parse("s2s:\n  ca_file: ca.pem\n", baseDirectory: "/srv/parley"))
        #expect(relative.s2s.caFile == "/srv/parley/ca.pem")
        #expect(relative.s2s.effectiveCAFile == "/srv/parley/ca.pem")
        let null = try #require(parse("s2s:\n  ca_file: ~\n"))
        #expect(null.s2s.caFile == nil)
        #expect(null.s2s.effectiveCAFile == S2SConfig.systemCAFile)
    }

    @Test func invalidCAFile() {
        #expect(problems("s2s:\n  ca_file: \"\"\n") == ["s2s.ca_file: expected a file path, got \"\""])
        #expect(problems("s2s:\n  ca_file: \"  \"\n") == ["s2s.ca_file: expected a file path, got \"  \""])
        #expect(problems("s2s:\n  ca_file: [a.pem]\n") == ["s2s.ca_file: expected a file path, got a list"])
        #expect(problems("s2s:\n  ca_file: false\n") == ["s2s.ca_file: expected a file path, got false"])
    }

    @Test func timeouts() throws {
        let config = try #require(parse("s2s:\n  connect_timeout: 0.5\n  timeout: 31536000\n  idle_timeout: 1\n"))
        #expect(config.s2s == S2SConfig(connectTimeout: 0.5, timeout: 31_536_000, idleTimeout: 1))
    }

    @Test func invalidTimeouts() {
        #expect(problems("s2s:\n  connect_timeout: 0\n  timeout: -1\n  idle_timeout: 31536001\n") == [
            "s2s.connect_timeout: \(secondsExpected), got 0",
            "s2s.timeout: \(secondsExpected), got -1",
            "s2s.idle_timeout: \(secondsExpected), got 31536001",
        ])
        #expect(problems("s2s:\n  connect_timeout: 10s\n  timeout:\n  idle_timeout: .inf\n") == [
            "s2s.connect_timeout: \(secondsExpected), got \"10s\"",
            "s2s.timeout: \(secondsExpected), got null",
            "s2s.idle_timeout: \(secondsExpected), got .inf",
        ])
    }

    @Test func counts() throws {
        let config = try #require(parse("s2s:\n  max_queued_stanzas: 50000\n  max_connections_per_domain: 16\n  stanza_size: 1\n"))
        #expect(config.s2s == S2SConfig(maxQueuedStanzas: 50_000, maxConnectionsPerDomain: 16, maxStanzaSize: 1))
    }

    @Test func invalidCounts() {
        #expect(problems("s2s:\n  max_queued_stanzas: 0\n  max_connections_per_domain: -1\n  stanza_size: 0\n") == [
            "s2s.max_queued_stanzas: expected a positive integer, got 0",
            "s2s.max_connections_per_domain: expected a positive integer, got -1",
            "s2s.stanza_size: expected a positive integer, got 0",
        ])
        #expect(problems("s2s:\n  max_queued_stanzas: \"5\"\n  max_connections_per_domain: 1.5\n  stanza_size: true\n") == [
            "s2s.max_queued_stanzas: expected a positive integer, got \"5\"",
            "s2s.max_connections_per_domain: expected a positive integer, got 1.5",
            "s2s.stanza_size: expected a positive integer, got true",
        ])
    }

    @Test func wrongShapes() {
        #expect(problems("s2s: true\n") == ["s2s: expected a mapping, got true"])
        #expect(problems("s2s: [enabled]\n") == ["s2s: expected a mapping, got a list"])
    }

    @Test func unknownKeys() {
        #expect(problems("""
        s2s:
          max_queued_stanza: 10
          ca_files: ca.pem
          dialback: true
        """) == [
            "s2s.max_queued_stanza: unknown key (did you mean \"max_queued_stanzas\"?)",
            "s2s.ca_files: unknown key (did you mean \"ca_file\"?)",
            "s2s.dialback: unknown key",
        ])
    }

    @Test func problemsAreReportedTogether() {
        #expect(problems("""
        listeners:
          s2s:
            port: 0
        tls:
          allow_plain: maybe
        s2s:
          enabled: 2
          policy: none
          domain_policies:
            "bad domain": allow_dialback
          ca_file: ""
          timeout: 0
          max_connections_per_domain: 0
          overrides:
            example.org: []
          extra: 1
        limits:
          stanza_size: 0
        """) == [
            "listeners.s2s.port: expected an integer between 1 and 65535, got 0",
            "tls.allow_plain: expected true or false, got \"maybe\"",
            "s2s.enabled: expected true or false, got 2",
            "s2s.policy: \(policyExpected), got \"none\"",
            "s2s.domain_policies[\"bad domain\"]: invalid domain name \"bad domain\": must not contain '@', '/' or whitespace",
            "s2s.ca_file: expected a file path, got \"\"",
            "s2s.timeout: \(secondsExpected), got 0",
            "s2s.max_connections_per_domain: expected a positive integer, got 0",
            "s2s.overrides[\"example.org\"]: at least one endpoint is required",
            "s2s.extra: unknown key",
            "limits.stanza_size: expected a positive integer, got 0",
        ])
    }
}

@Suite struct S2SDomainPolicyTests {
    @Test func domainPoliciesOverrideTheDefault() throws {
        let config = try #require(parse("""
        s2s:
          policy: require_valid_certificate
          domain_policies:
            Old.Example.NET: allow_dialback
            strict.example: REQUIRE_VALID_CERTIFICATE
        """))
        #expect(config.s2s.domainPolicies == ["old.example.net": .allowDialback, "strict.example": .requireValidCertificate])
        #expect(config.s2s.policy(for: "old.example.net") == .allowDialback)
        #expect(config.s2s.policy(for: "OLD.example.net") == .allowDialback)
        #expect(config.s2s.policy(for: "strict.example") == .requireValidCertificate)
        #expect(config.s2s.policy(for: "other.example") == .requireValidCertificate)
        #expect(config.s2s.policy(for: "sub.old.example.net") == .requireValidCertificate)
    }

    @Test func policyForUsesTheGlobalPolicyWhenThereIsNoEntry() {
        let s2s = S2SConfig(policy: .allowDialback, domainPolicies: ["secure.example": .requireValidCertificate])
        #expect(s2s.policy(for: "Secure.Example") == .requireValidCertificate)
        #expect(s2s.policy(for: "example.org") == .allowDialback)
    }

    @Test(arguments: ["s2s:\n  domain_policies:\n", "s2s:\n  domain_policies: {}\n"])
    func emptyDomainPolicies(yaml: String) throws {
        #expect(try #require(parse(yaml)).s2s.domainPolicies == [:])
    }

    @Test func flowStyle() throws {
        let config = try #require(parse("s2s: { domain_policies: { example.org: require_valid_certificate } }\n"))
        #expect(config.s2s.domainPolicies == ["example.org": .requireValidCertificate])
    }

    @Test func invalidDomainPolicies() {
        #expect(problems("""
        s2s:
          domain_policies:
            example.org: allow_dialback
            Example.Org: require_valid_certificate
            "user@example.org": allow_dialback
            "example.org/resource": allow_dialback
            "with space": allow_dialback
            "": allow_dialback
            good.example: maybe
            other.example:
            list.example: [allow_dialback]
        """) == [
            "s2s.domain_policies[\"Example.Org\"]: duplicate domain \"example.org\" (already listed at s2s.domain_policies[\"example.org\"])",
            "s2s.domain_policies[\"user@example.org\"]: invalid domain name \"user@example.org\": must not contain '@', '/' or whitespace",
            "s2s.domain_policies[\"example.org/resource\"]: invalid domain name \"example.org/resource\": must not contain '@', '/' or whitespace",
            "s2s.domain_policies[\"with space\"]: invalid domain name \"with space\": must not contain '@', '/' or whitespace",
            "s2s.domain_policies[\"\"]: domain name must not be empty",
            "s2s.domain_policies[\"good.example\"]: \(policyExpected), got \"maybe\"",
            "s2s.domain_policies[\"other.example\"]: \(policyExpected), got null",
            "s2s.domain_policies[\"list.example\"]: \(policyExpected), got a list",
        ])
    }

    @Test func invalidDomainAndPolicyAreBothReported() {
        #expect(problems("s2s:\n  domain_policies:\n    \"a b\": nope\n") == [
            "s2s.domain_policies[\"a b\"]: invalid domain name \"a b\": must not contain '@', '/' or whitespace",
            "s2s.domain_policies[\"a b\"]: \(policyExpected), got \"nope\"",
        ])
    }

    @Test func wrongShapes() {
        #expect(problems("s2s:\n  domain_policies: [example.org]\n") == [
            "s2s.domain_policies: expected a mapping of domain names to policies, got a list",
        ])
        #expect(problems("s2s:\n  domain_policies: require_valid_certificate\n") == [
            "s2s.domain_policies: expected a mapping of domain names to policies, got \"require_valid_certificate\"",
        ])
    }
}

@Suite struct S2SOverrideTests {
    @Test func mappingsAndShorthands() throws {
        let config = try #require(parse("""
        s2s:
          overrides:
            a.example:
              - host: xmpp.a.example
              - host: backup.a.example
                port: 15269
              - host: tls.a.example
                port: 5270
                direct_tls: true
              - 192.0.2.1:5269
              - plain.a.example
            b.example: xmpp.b.example:5299
            c.example: { host: xmpp.c.example, direct_tls: true }
            d.example: ["[2001:db8::2]:5269", "[2001:db8::3]", { host: "2001:db8::4" }, { host: "[2001:db8::5]" }]
        """))
        #expect(config.s2s.overrides == [
            "a.example": [
                S2SEndpointConfig(host: "xmpp.a.example"),
                S2SEndpointConfig(host: "backup.a.example", port: 15269),
                S2SEndpointConfig(host: "tls.a.example", port: 5270, directTLS: true),
                S2SEndpointConfig(host: "192.0.2.1", port: 5269),
                S2SEndpointConfig(host: "plain.a.example", port: 5269),
            ],
            "b.example": [S2SEndpointConfig(host: "xmpp.b.example", port: 5299)],
            "c.example": [S2SEndpointConfig(host: "xmpp.c.example", port: 5269, directTLS: true)],
            "d.example": [
                S2SEndpointConfig(host: "2001:db8::2", port: 5269),
                S2SEndpointConfig(host: "2001:db8::3", port: 5269),
                S2SEndpointConfig(host: "2001:db8::4"),
                S2SEndpointConfig(host: "2001:db8::5"),
            ],
        ])
    }

    @Test func shorthandIsOneStartTLSEndpoint() throws {
        let config = try #require(parse("s2s:\n  overrides:\n    Example.ORG: xmpp.example.org:5269\n"))
        #expect(config.s2s.overrides == ["example.org": [S2SEndpointConfig(host: "xmpp.example.org", port: 5269, directTLS: false)]])
    }

    @Test(arguments: ["s2s:\n  overrides:\n", "s2s:\n  overrides: {}\n"])
    func emptyOverrides(yaml: String) throws {
        #expect(try #require(parse(yaml)).s2s.overrides == [:])
    }

    @Test func invalidShorthands() {
        #expect(problems("""
        s2s:
          overrides:
            a.example: "xmpp.a.example:0"
            b.example: "xmpp.b.example:70000"
            c.example: "xmpp.c.example:abc"
            d.example: "xmpp.d.example:"
            e.example: ":5269"
            f.example: "xmpp f.example:5269"
            g.example: "2001:db8::1"
            h.example: "[2001:db8::1"
            i.example: "[2001:db8::1]5269"
            j.example: "[]:5269"
            k.example: "xmpp.k.example:+5269"
            l.example: ""
        """) == [
            "s2s.overrides[\"a.example\"]: invalid endpoint \"xmpp.a.example:0\": the port must be an integer between 1 and 65535",
            "s2s.overrides[\"b.example\"]: invalid endpoint \"xmpp.b.example:70000\": the port must be an integer between 1 and 65535",
            "s2s.overrides[\"c.example\"]: invalid endpoint \"xmpp.c.example:abc\": the port must be an integer between 1 and 65535",
            "s2s.overrides[\"d.example\"]: invalid endpoint \"xmpp.d.example:\": the port must be an integer between 1 and 65535",
            "s2s.overrides[\"e.example\"]: invalid endpoint \":5269\": the host must not be empty",
            "s2s.overrides[\"f.example\"]: invalid endpoint \"xmpp f.example:5269\": must not contain whitespace",
            "s2s.overrides[\"g.example\"]: invalid endpoint \"2001:db8::1\": write IPv6 addresses in brackets, e.g. \"[2001:db8::1]:5269\"",
            "s2s.overrides[\"h.example\"]: invalid endpoint \"[2001:db8::1\": missing ']' after the IPv6 address",
            "s2s.overrides[\"i.example\"]: invalid endpoint \"[2001:db8::1]5269\": expected ':' and a port after ']'",
            "s2s.overrides[\"j.example\"]: invalid endpoint \"[]:5269\": the host must not be empty",
            "s2s.overrides[\"k.example\"]: invalid endpoint \"xmpp.k.example:+5269\": the port must be an integer between 1 and 65535",
            "s2s.overrides[\"l.example\"]: \(endpointExpected), got \"\"",
        ])
    }

    @Test func invalidEndpointMappings() {
        #expect(problems("""
        s2s:
          overrides:
            example.org:
              - port: 5269
              - host: ""
              - host: "xmpp example.org"
              - host: xmpp.example.org
                port: 0
              - host: xmpp.example.org
                port: "5269"
              - host: xmpp.example.org
                direct_tls: "yes"
              - host: xmpp.example.org
                weight: 10
              - host: [a, b]
              - ~
              - true
              - [xmpp.example.org]
              - "bad:port:here"
        """) == [
            "s2s.overrides[\"example.org\"][0]: missing required key \"host\"",
            "s2s.overrides[\"example.org\"][1].host: expected a host name or IP address, got \"\"",
            "s2s.overrides[\"example.org\"][2].host: invalid host \"xmpp example.org\": must not contain whitespace",
            "s2s.overrides[\"example.org\"][3].port: expected an integer between 1 and 65535, got 0",
            "s2s.overrides[\"example.org\"][4].port: expected an integer between 1 and 65535, got \"5269\"",
            "s2s.overrides[\"example.org\"][5].direct_tls: expected true or false, got \"yes\"",
            "s2s.overrides[\"example.org\"][6].weight: unknown key",
            "s2s.overrides[\"example.org\"][7].host: expected a host name or IP address, got a list",
            "s2s.overrides[\"example.org\"][8]: \(endpointExpected), got null",
            "s2s.overrides[\"example.org\"][9]: \(endpointExpected), got true",
            "s2s.overrides[\"example.org\"][10]: \(endpointExpected), got a list",
            "s2s.overrides[\"example.org\"][11]: invalid endpoint \"bad:port:here\": write IPv6 addresses in brackets, e.g. \"[2001:db8::1]:5269\"",
        ])
    }

    @Test func invalidDomainsAndLists() {
        #expect(problems("""
        s2s:
          overrides:
            example.org: xmpp.example.org
            EXAMPLE.org: other.example.org
            "a/b": xmpp.example.org
            empty.example: []
            null.example:
            bool.example: false
        """) == [
            "s2s.overrides[\"EXAMPLE.org\"]: duplicate domain \"example.org\" (already listed at s2s.overrides[\"example.org\"])",
            "s2s.overrides[\"a/b\"]: invalid domain name \"a/b\": must not contain '@', '/' or whitespace",
            "s2s.overrides[\"empty.example\"]: at least one endpoint is required",
            "s2s.overrides[\"null.example\"]: at least one endpoint is required",
            "s2s.overrides[\"bool.example\"]: \(endpointExpected), got false",
        ])
        #expect(problems("s2s:\n  overrides: [example.org]\n") == [
            "s2s.overrides: expected a mapping of domain names to endpoints, got a list",
        ])
        #expect(problems("s2s:\n  overrides: xmpp.example.org:5269\n") == [
            "s2s.overrides: expected a mapping of domain names to endpoints, got \"xmpp.example.org:5269\"",
        ])
    }

    @Test func oneBadEndpointRejectsTheWholeSetting() {
        #expect(problems("""
        s2s:
          overrides:
            good.example: xmpp.good.example
            bad.example: [xmpp.bad.example, "x:0"]
        """) == [
            "s2s.overrides[\"bad.example\"][1]: invalid endpoint \"x:0\": the port must be an integer between 1 and 65535",
        ])
    }
}

@Suite struct S2SListenerTests {
    @Test(arguments: ["false", "null", "~", "", "off"])
    func disabledS2SListener(value: String) throws {
        let config = try #require(parse("listeners:\n  s2s: \(value)\n"))
        #expect(config.listeners.s2s == nil)
        #expect(config.listeners.s2sDirectTLS == nil)
        #expect(config.listeners.c2s == .defaultC2S)
        #expect(config.listeners.c2sDirectTLS == .defaultC2SDirectTLS)
    }

    @Test func trueMeansTheDefaultListener() throws {
        let config = try #require(parse("listeners:\n  s2s: true\n  s2s_direct_tls: true\n"))
        #expect(config.listeners.s2s == ListenerConfig(address: "0.0.0.0", port: 5269))
        #expect(config.listeners.s2sDirectTLS == ListenerConfig(address: "0.0.0.0", port: 5270))
    }

    @Test(arguments: ["false", "null", ""])
    func directTLSIsOffByDefault(value: String) throws {
        let config = try #require(parse("listeners:\n  s2s_direct_tls: \(value)\n"))
        #expect(config.listeners == ListenersConfig())
    }

    @Test func partialListenersKeepDefaults() throws {
        let config = try #require(parse("""
        listeners:
          s2s:
            address: 192.0.2.1
          s2s_direct_tls:
            port: 5999
        """))
        #expect(config.listeners.s2s == ListenerConfig(address: "192.0.2.1", port: 5269))
        #expect(config.listeners.s2sDirectTLS == ListenerConfig(address: "0.0.0.0", port: 5999))
    }

    @Test func flowStyle() throws {
        let config = try #require(parse("listeners: { s2s: { port: 6269 }, s2s_direct_tls: { address: 10.0.0.1 } }\n"))
        #expect(config.listeners.s2s == ListenerConfig(address: "0.0.0.0", port: 6269))
        #expect(config.listeners.s2sDirectTLS == ListenerConfig(address: "10.0.0.1", port: 5270))
    }

    @Test func invalidListeners() {
        #expect(problems("""
        listeners:
          s2s:
            address: "a b"
            port: 65536
            backlog: 5
          s2s_direct_tls: 5270
        """) == [
            "listeners.s2s.address: invalid address \"a b\": must not contain whitespace",
            "listeners.s2s.port: expected an integer between 1 and 65535, got 65536",
            "listeners.s2s.backlog: unknown key",
            "listeners.s2s_direct_tls: expected a mapping with address and port, or false to disable, got 5270",
        ])
        #expect(problems("listeners:\n  s2s:\n    address: \"\"\n") == [
            "listeners.s2s.address: expected an IP address or host name, got \"\"",
        ])
        #expect(problems("listeners:\n  s2s_direct:\n    port: 5270\n") == [
            "listeners.s2s_direct: unknown key",
        ])
    }
}

@Suite struct ListenerPortClashTests {
    @Test func s2sOnAClientPort() {
        #expect(problems("listeners:\n  s2s:\n    port: 5222\n") == [
            "listeners.s2s: port 5222 is already used by listeners.c2s (0.0.0.0:5222)",
        ])
        #expect(problems("listeners:\n  s2s_direct_tls:\n    port: 5223\n") == [
            "listeners.s2s_direct_tls: port 5223 is already used by listeners.c2s_direct_tls (0.0.0.0:5223)",
        ])
    }

    @Test func s2sDirectTLSOnTheS2SPort() {
        #expect(problems("listeners:\n  s2s_direct_tls:\n    port: 5269\n") == [
            "listeners.s2s_direct_tls: port 5269 is already used by listeners.s2s (0.0.0.0:5269)",
        ])
    }

    @Test func clientListenerOnTheS2SPort() {
        // Listeners are checked in the order c2s, c2s_direct_tls, s2s, s2s_direct_tls: the later one is reported.
        #expect(problems("listeners:\n  c2s_direct_tls:\n    port: 5269\n") == [
            "listeners.s2s: port 5269 is already used by listeners.c2s_direct_tls (0.0.0.0:5269)",
        ])
    }

    @Test func everyClashIsReported() {
        #expect(problems("""
        listeners:
          c2s: { port: 6000 }
          c2s_direct_tls: { port: 6000 }
          s2s: { address: 127.0.0.1, port: 6000 }
          s2s_direct_tls: { address: "::", port: 6000 }
        """) == [
            "listeners.c2s_direct_tls: port 6000 is already used by listeners.c2s (0.0.0.0:6000)",
            "listeners.s2s: port 6000 is already used by listeners.c2s (0.0.0.0:6000)",
            "listeners.s2s_direct_tls: port 6000 is already used by listeners.c2s (0.0.0.0:6000)",
        ])
    }

    @Test func wildcardAndConcreteAddressesClash() {
        #expect(problems("""
        listeners:
          c2s: { address: 127.0.0.1, port: 5222 }
          s2s: { address: "::", port: 5222 }
        """) == [
            "listeners.s2s: port 5222 is already used by listeners.c2s (127.0.0.1:5222)",
        ])
        #expect(problems("""
        listeners:
          s2s: { address: 192.0.2.1, port: 5270 }
          s2s_direct_tls: true
        """) == [
            "listeners.s2s_direct_tls: port 5270 is already used by listeners.s2s (192.0.2.1:5270)",
        ])
    }

    @Test func differentConcreteAddressesMayShareAPort() throws {
        let config = try #require(parse("""
        listeners:
          c2s: { address: 127.0.0.1, port: 5222 }
          c2s_direct_tls: { address: 127.0.0.2, port: 5222 }
          s2s: { address: 127.0.0.3, port: 5222 }
          s2s_direct_tls: { address: 127.0.0.4, port: 5222 }
        """))
        #expect(config.listeners.s2s == ListenerConfig(address: "127.0.0.3", port: 5222))
        #expect(config.listeners.s2sDirectTLS == ListenerConfig(address: "127.0.0.4", port: 5222))
    }

    @Test func disabledListenersDoNotClash() throws {
        let config = try #require(parse("""
        listeners:
          c2s: false
          s2s: { port: 5222 }
          s2s_direct_tls: { port: 5223 }
          c2s_direct_tls: false
        """))
        #expect(config.listeners == ListenersConfig(
            c2s: nil, c2sDirectTLS: nil,
            s2s: ListenerConfig(port: 5222), s2sDirectTLS: ListenerConfig(port: 5223)
        ))
    }

    @Test func s2sListenersAreNotCheckedWhenFederationIsOff() throws {
        let config = try #require(parse("""
        listeners:
          s2s: { port: 5222 }
          s2s_direct_tls: { port: 5223 }
        s2s:
          enabled: false
        """))
        #expect(config.s2s.enabled == false)
        // Kept as written; the server does not open them.
        #expect(config.listeners.s2s == ListenerConfig(port: 5222))
        #expect(config.listeners.s2sDirectTLS == ListenerConfig(port: 5223))
        // Client listeners are still checked against each other.
        #expect(problems("""
        listeners:
          c2s_direct_tls: { port: 5222 }
          s2s: { port: 5222 }
        s2s:
          enabled: false
        """) == [
            "listeners.c2s_direct_tls: port 5222 is already used by listeners.c2s (0.0.0.0:5222)",
        ])
    }

    @Test func invalidEnabledCountsAsOnForTheCheck() {
        #expect(problems("""
        listeners:
          s2s: { port: 5222 }
        s2s:
          enabled: perhaps
        """) == [
            "s2s.enabled: expected true or false, got \"perhaps\"",
            "listeners.s2s: port 5222 is already used by listeners.c2s (0.0.0.0:5222)",
        ])
    }

    @Test func noClashCheckWhenAListenerIsInvalid() {
        #expect(problems("""
        listeners:
          s2s: { port: 5222 }
          s2s_direct_tls: { port: x }
        """) == [
            "listeners.s2s_direct_tls.port: expected an integer between 1 and 65535, got \"x\"",
        ])
    }
}

@Suite struct S2SExampleFileTests {
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // ParleyConfigTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // repository root
        .path

    @Test func exampleFileGivesTheFederationDefaults() throws {
        let config = try ServerConfig.load(path: Self.repositoryRoot + "/parley.example.yaml")
        #expect(config.s2s == S2SConfig())
        #expect(config.listeners == ListenersConfig())
        #expect(config == ServerConfig.default(dataDirectory: Self.repositoryRoot + "/data"))
    }

    @Test func exampleFileShowsTheFederationSettings() throws {
        let text = try String(contentsOfFile: Self.repositoryRoot + "/parley.example.yaml", encoding: .utf8)
        let keys = Set(text.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.drop(while: { $0 == " " })
            guard !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { return nil }
            return String(trimmed[..<colon])
        })
        let expected = [
            "s2s", "s2s_direct_tls", "enabled", "policy", "domain_policies", "ca_file", "require_tls",
            "connect_timeout", "timeout", "idle_timeout", "max_queued_stanzas", "max_connections_per_domain",
            "stanza_size", "overrides",
        ]
        for key in expected {
            #expect(keys.contains(key), "parley.example.yaml does not show \(key)")
        }
    }

    @Test func exampleOverridesInTheCommentsParse() throws {
        // The commented example of `overrides` in parley.example.yaml, uncommented.
        let config = try #require(parse("""
        s2s:
          overrides:
            example.org:
              - host: xmpp1.example.org
                port: 5269
              - { host: "2001:db8::1", port: 5270, direct_tls: true }
            example.net: xmpp.example.net:5269
        """))
        #expect(config.s2s.overrides == [
            "example.org": [
                S2SEndpointConfig(host: "xmpp1.example.org", port: 5269),
                S2SEndpointConfig(host: "2001:db8::1", port: 5270, directTLS: true),
            ],
            "example.net": [S2SEndpointConfig(host: "xmpp.example.net", port: 5269)],
        ])
    }
}
