// Tests for the per-host registration switch, the service limits (registration, offline storage,
// blocklists, client pings, outbound queue), `contact_addresses` (XEP-0157), `server_info` and
// `modules_disabled`. `parse`, `problems` and `base` are shared with ServerConfigTests.swift.

import Foundation
import Testing
@testable import ParleyConfig

@Suite struct HostRegistrationTests {
    @Test func plainStringHostDoesNotAllowRegistration() throws {
        let config = try #require(parse("hosts:\n  - example.org\n  - name: chat.example.org\n"))
        #expect(config.hosts.map(\.allowRegistration) == [false, false])
    }

    @Test(arguments: [("true", true), ("false", false), ("yes", true), ("off", false)])
    func allowRegistrationPerHost(value: String, expected: Bool) throws {
        let config = try #require(parse("""
        hosts:
          - name: open.example.org
            allow_registration: \(value)
          - closed.example.org
        """))
        #expect(config.hosts == [
            HostConfig(name: "open.example.org", allowRegistration: expected),
            HostConfig(name: "closed.example.org"),
        ])
    }

    @Test func allowRegistrationWithCertificate() throws {
        let config = try #require(parse("""
        hosts:
          - name: example.org
            certificate: tls/a.crt
            private_key: tls/a.key
            allow_registration: true
        """))
        #expect(config.hosts == [
            HostConfig(
                name: "example.org", certificate: "/etc/parley/tls/a.crt", privateKey: "/etc/parley/tls/a.key",
                allowRegistration: true
            ),
        ])
    }

    @Test func invalidAllowRegistration() {
        #expect(problems("""
        hosts:
          - name: a.example
            allow_registration: "true"
          - name: b.example
            allow_registration: 1
          - name: c.example
            allow_registration:
          - name: d.example
            allow_registrations: true
        """) == [
            "hosts[0].allow_registration: expected true or false, got \"true\"",
            "hosts[1].allow_registration: expected true or false, got 1",
            "hosts[2].allow_registration: expected true or false, got null",
            "hosts[3].allow_registrations: unknown key (did you mean \"allow_registration\"?)",
        ])
    }

    @Test func allowRegistrationIsCheckedAlongsideTheName() {
        #expect(problems("""
        hosts:
          - name: a@example
            allow_registration: maybe
        """) == [
            "hosts[0].name: invalid host name \"a@example\": must not contain '@', '/' or whitespace",
            "hosts[0].allow_registration: expected true or false, got \"maybe\"",
        ])
    }
}

@Suite struct ServiceLimitTests {
    @Test func validValues() throws {
        let config = try #require(parse("""
        limits:
          registrations_per_address_per_hour: 1
          offline_messages_per_user: 25
          blocklist_items: 1
          client_ping_interval: 31536000
          client_ping_timeout: 0.5
          outbound_queue: 1
          roster_cache_size: 0
        """))
        #expect(config.limits == LimitsConfig(
            registrationsPerAddressPerHour: 1,
            maxOfflineMessagesPerUser: 25,
            maxBlocklistItems: 1,
            clientPingInterval: 31_536_000,
            clientPingTimeout: 0.5,
            maxOutboundQueue: 1,
            rosterCacheSize: 0
        ))
    }

    @Test func zeroDisablesOfflineStorage() throws {
        let config = try #require(parse("limits:\n  offline_messages_per_user: 0\n"))
        #expect(config.limits.maxOfflineMessagesPerUser == 0)
        #expect(config.limits == LimitsConfig(maxOfflineMessagesPerUser: 0))
    }

    @Test func integerLimitsOutOfRange() {
        #expect(problems("""
        limits:
          registrations_per_address_per_hour: 0
          offline_messages_per_user: -1
          blocklist_items: 0
          outbound_queue: -5
          roster_cache_size: -1
        """) == [
            "limits.registrations_per_address_per_hour: expected a positive integer, got 0",
            "limits.offline_messages_per_user: expected a non-negative integer, got -1",
            "limits.blocklist_items: expected a positive integer, got 0",
            "limits.outbound_queue: expected a positive integer, got -5",
            "limits.roster_cache_size: expected a non-negative integer, got -1",
        ])
    }

    @Test func integerLimitsOfTheWrongType() {
        #expect(problems("""
        limits:
          registrations_per_address_per_hour: "5"
          offline_messages_per_user: 1.5
          blocklist_items: true
          outbound_queue: [1]
        """) == [
            "limits.registrations_per_address_per_hour: expected a positive integer, got \"5\"",
            "limits.offline_messages_per_user: expected a non-negative integer, got 1.5",
            "limits.blocklist_items: expected a positive integer, got true",
            "limits.outbound_queue: expected a positive integer, got a list",
        ])
    }

    @Test func pingTimesOutOfRange() {
        let expected = "expected a number of seconds greater than 0 and at most 31536000"
        #expect(problems("limits:\n  client_ping_interval: 0\n  client_ping_timeout: -1\n") == [
            "limits.client_ping_interval: \(expected), got 0",
            "limits.client_ping_timeout: \(expected), got -1",
        ])
        #expect(problems("limits:\n  client_ping_interval: 31536001\n  client_ping_timeout: .nan\n") == [
            "limits.client_ping_interval: \(expected), got 31536001",
            "limits.client_ping_timeout: \(expected), got .nan",
        ])
        #expect(problems("limits:\n  client_ping_interval: 5m\n  client_ping_timeout:\n") == [
            "limits.client_ping_interval: \(expected), got \"5m\"",
            "limits.client_ping_timeout: \(expected), got null",
        ])
    }

    @Test func typoGetsASuggestion() {
        #expect(problems("limits:\n  blocklist_item: 10\n") == [
            "limits.blocklist_item: unknown key (did you mean \"blocklist_items\"?)",
        ])
    }
}

@Suite struct ContactAddressTests {
    @Test func fieldNames() {
        #expect(ServerConfig.contactAddressFields.map(\.key) == [
            "abuse", "admin", "feedback", "sales", "security", "status", "support",
        ])
        #expect(ServerConfig.contactAddressFields.map(\.field) == [
            "abuse-addresses", "admin-addresses", "feedback-addresses", "sales-addresses",
            "security-addresses", "status-addresses", "support-addresses",
        ])
    }

    @Test func everyKindMapsToItsField() throws {
        let config = try #require(parse("""
        contact_addresses:
          abuse: [mailto:abuse@example.org]
          admin: [xmpp:admin@example.org]
          feedback: [https://example.org/feedback]
          sales: [tel:+1-555-0100]
          security: [mailto:security@example.org]
          status: [http://status.example.org]
          support: [sip:support@example.org]
        """))
        #expect(config.contactAddresses == [
            "abuse-addresses": ["mailto:abuse@example.org"],
            "admin-addresses": ["xmpp:admin@example.org"],
            "feedback-addresses": ["https://example.org/feedback"],
            "sales-addresses": ["tel:+1-555-0100"],
            "security-addresses": ["mailto:security@example.org"],
            "status-addresses": ["http://status.example.org"],
            "support-addresses": ["sip:support@example.org"],
        ])
    }

    @Test func singleStringIsAOneElementListAndOrderIsKept() throws {
        let config = try #require(parse("""
        contact_addresses:
          admin: mailto:admin@example.org
          support:
            - xmpp:support@muc.example.org?join
            - https://example.org/help
            - mailto:help@example.org
        """))
        #expect(config.contactAddresses == [
            "admin-addresses": ["mailto:admin@example.org"],
            "support-addresses": ["xmpp:support@muc.example.org?join", "https://example.org/help", "mailto:help@example.org"],
        ])
    }

    @Test(arguments: ["contact_addresses:\n", "contact_addresses: {}\n", "contact_addresses:\n  admin: []\n  abuse:\n  status: ~\n"])
    func emptyKindsAreLeftOut(yaml: String) throws {
        let config = try #require(parse(yaml))
        #expect(config.contactAddresses == [:])
        #expect(config == ServerConfig.default(dataDirectory: "/etc/parley/data"))
    }

    @Test func addressesThatAreNotURIs() {
        let expected = "expected a URI such as mailto:admin@example.org or xmpp:admin@example.org"
        #expect(problems("""
        contact_addresses:
          admin: [mailto:admin@example.org, bob]
          abuse: abuse@example.org
          security: ["mailto:a b@example.org", ":nothing", "mailto:", 1http://x]
          status: [42, true, ~, [https://x], "https://status.example.org"]
        """) == [
            // Kinds are checked in the order of `ServerConfig.contactAddressFields`.
            "contact_addresses.abuse: \(expected), got \"abuse@example.org\"",
            "contact_addresses.admin[1]: \(expected), got \"bob\"",
            "contact_addresses.security[0]: \(expected), got \"mailto:a b@example.org\"",
            "contact_addresses.security[1]: \(expected), got \":nothing\"",
            "contact_addresses.security[2]: \(expected), got \"mailto:\"",
            "contact_addresses.security[3]: \(expected), got \"1http://x\"",
            "contact_addresses.status[0]: \(expected), got 42",
            "contact_addresses.status[1]: \(expected), got true",
            "contact_addresses.status[2]: \(expected), got null",
            "contact_addresses.status[3]: \(expected), got a list",
        ])
    }

    @Test func wrongShapes() {
        #expect(problems("contact_addresses: [mailto:admin@example.org]\n") == [
            "contact_addresses: expected a mapping, got a list",
        ])
        #expect(problems("contact_addresses: mailto:admin@example.org\n") == [
            "contact_addresses: expected a mapping, got \"mailto:admin@example.org\"",
        ])
        #expect(problems("contact_addresses:\n  admin: { email: mailto:admin@example.org }\n") == [
            "contact_addresses.admin: expected a URI or a list of URIs, got a mapping",
        ])
    }

    @Test func unknownKinds() {
        #expect(problems("""
        contact_addresses:
          admins: [mailto:admin@example.org]
          admin-addresses: [mailto:admin@example.org]
          press: [mailto:press@example.org]
        """) == [
            "contact_addresses.admins: unknown key (did you mean \"admin\"?)",
            "contact_addresses.admin-addresses: unknown key",
            "contact_addresses.press: unknown key",
        ])
    }

    @Test(arguments: [
        "mailto:admin@example.org", "xmpp:admin@example.org", "xmpp:support@muc.example.org?join",
        "https://example.org/contact", "http://example.org", "tel:+1-555-0100", "sip:admin@example.org",
        "web+chat:x", "A.b-c:d", "urn:ietf:rfc:3986",
    ])
    func acceptedURIs(uri: String) {
        #expect(ConfigDecoder.looksLikeURI(uri))
    }

    @Test(arguments: [
        "", "bob", "admin@example.org", ":x", "mailto:", "1http://x", "+a:b", "-a:b", ".a:b", "ma_il:x",
        "http ://x", "mailto:a b", "mailto:a\tb", "mailto:a\u{7}", "é:x", "mai€:x",
    ])
    func rejectedURIs(uri: String) {
        #expect(!ConfigDecoder.looksLikeURI(uri))
    }
}

@Suite struct ServerInfoConfigTests {
    @Test func showOperatingSystem() throws {
        #expect(try #require(parse("server_info:\n  show_os: true\n")).serverInfo == ServerInfoConfig(showOperatingSystem: true))
        #expect(try #require(parse("server_info:\n  show_os: false\n")).serverInfo == ServerInfoConfig())
        #expect(try #require(parse("server_info:\n")).serverInfo.showOperatingSystem == false)
    }

    @Test func invalidServerInfo() {
        #expect(problems("server_info:\n  show_os: \"no\"\n") == [
            "server_info.show_os: expected true or false, got \"no\"",
        ])
        #expect(problems("server_info:\n  show_os:\n") == ["server_info.show_os: expected true or false, got null"])
        #expect(problems("server_info: true\n") == ["server_info: expected a mapping, got true"])
        #expect(problems("server_info:\n  show_version: true\n") == ["server_info.show_version: unknown key"])
    }
}

@Suite struct ServiceSettingsErrorTests {
    @Test func newProblemsAreReportedTogether() {
        #expect(problems("""
        hosts:
          - name: example.org
            allow_registration: sometimes
        limits:
          client_ping_timeout: 0
          outbound_queue: 0
        contact_addresses:
          admin: [bob]
        server_info:
          show_os: 1
        """) == [
            "hosts[0].allow_registration: expected true or false, got \"sometimes\"",
            "limits.client_ping_timeout: expected a number of seconds greater than 0 and at most 31536000, got 0",
            "limits.outbound_queue: expected a positive integer, got 0",
            "contact_addresses.admin[0]: expected a URI such as mailto:admin@example.org or xmpp:admin@example.org, got \"bob\"",
            "server_info.show_os: expected true or false, got 1",
        ])
    }
}

@Suite struct DisabledModulesTests {
    @Test func namesAreRead() throws {
        let config = try #require(parse("modules_disabled: [carbons, stanza-id]\n"))
        #expect(config.disabledModules == ["carbons", "stanza-id"])
        #expect(try #require(parse("modules_disabled:\n")).disabledModules.isEmpty)
        #expect(try #require(parse("modules_disabled: []\n")).disabledModules.isEmpty)
        #expect(ServerConfig.default(dataDirectory: "/d").disabledModules.isEmpty)
    }

    @Test func everyOptionalModuleCanBeDisabled() throws {
        let names = ServerConfig.optionalModules.keys.sorted()
        let config = try #require(parse("modules_disabled: [\(names.joined(separator: ", "))]\n"))
        #expect(config.disabledModules == Set(names))
    }

    @Test func requiredUnknownAndMistypedNamesAreReported() {
        let known = ServerConfig.optionalModules.keys.sorted().joined(separator: ", ")
        #expect(problems("""
        modules_disabled:
          - roster
          - disco
          - mam
          - 3
          - ""
        """) == [
            "modules_disabled[0]: the roster module cannot be disabled: the server needs it",
            "modules_disabled[1]: the disco module cannot be disabled: the server needs it",
            "modules_disabled[2]: unknown module \"mam\"; the modules that can be disabled are \(known)",
            "modules_disabled[3]: unknown module \"3\"; the modules that can be disabled are \(known)",
            "modules_disabled[4]: expected a module name, got \"\"",
        ])
        #expect(problems("modules_disabled: carbons\n") == [
            "modules_disabled: expected a list of module names, got \"carbons\"",
        ])
    }

    @Test func exampleFileNamesEveryModuleThatCanBeDisabled() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("parley.example.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let section = try #require(text.range(of: "# Feature modules to leave out").map { text[$0.lowerBound...] })
        for name in ServerConfig.optionalModules.keys {
            #expect(section.contains(" \(name),") || section.contains(" \(name)."), "parley.example.yaml does not name \(name)")
        }
    }
}
