import Foundation
@testable import ParleyIM
import ParleyKernel
import Testing
import XMPPProtocol
import XMPPXML

@Suite("Software version (XEP-0092), entity time (XEP-0202), contact addresses (XEP-0157)")
struct ServerInfoTests {
    @Test func versionNamesTheSoftwareWithoutTheOSByDefault() async throws {
        let harness = try await ServiceHarness([SoftwareVersionModule()])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: "jabber:iq:version"))
        let query = try #require(reply?.child("query", namespace: "jabber:iq:version"))
        #expect(query.child("name")?.text == "Parley")
        #expect(query.child("version")?.text == SoftwareVersionModule.parleyVersion)
        #expect(query.child("os") == nil)
        #expect(harness.kernel.serverFeatures.contains("jabber:iq:version"))
    }

    @Test func versionReportsTheOSWhenConfigured() async throws {
        let harness = try await ServiceHarness([SoftwareVersionModule(operatingSystem: "Linux 6.1")])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: "jabber:iq:version"))
        #expect(reply?.child("query")?.child("os")?.text == "Linux 6.1")
        #expect(!SoftwareVersionModule.hostOperatingSystem.isEmpty)
    }

    @Test func versionIsOnlyTheServers() async throws {
        // An account's bare JID has no software version of its own.
        let harness = try await ServiceHarness([SoftwareVersionModule()])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "bob@localhost", XElement("query", namespace: "jabber:iq:version"))
        #expect(stanzaErrorCondition(reply) == "service-unavailable")
    }

    @Test func timeIsUTCWithTheOffset() async throws {
        // XEP-0202 §4 example: 2006-12-19T17:58:35Z at -06:00.
        let instant = Date(timeIntervalSince1970: 1_166_551_115)
        let harness = try await ServiceHarness([EntityTimeModule(timeZone: TimeZone(secondsFromGMT: -6 * 3600)!, now: { instant })])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("time", namespace: "urn:xmpp:time"))
        let time = try #require(reply?.child("time", namespace: "urn:xmpp:time"))
        #expect(time.child("tzo")?.text == "-06:00")
        #expect(time.child("utc")?.text == "2006-12-19T17:58:35Z")
        #expect(harness.kernel.serverFeatures.contains("urn:xmpp:time"))
    }

    @Test func offsetsAreSignedHoursAndMinutes() {
        #expect(EntityTimeModule.offsetString(seconds: 0) == "+00:00")
        #expect(EntityTimeModule.offsetString(seconds: 19_800) == "+05:30")
        #expect(EntityTimeModule.offsetString(seconds: -34_200) == "-09:30")
        #expect(EntityTimeModule.offsetString(seconds: 14 * 3600) == "+14:00")
    }

    @Test func utcMatchesFoundationAcrossTheCalendar() {
        let calendar: Calendar = {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            return calendar
        }()
        var generator = SystemRandomNumberGenerator()
        let samples: [Double] = [0, -1, 951_782_400, 951_868_799, 4_107_542_400, -2_208_988_800]
            + (0..<500).map { _ in Double(Int64.random(in: -6_000_000_000...8_000_000_000, using: &generator)) }
        for seconds in samples {
            let date = Date(timeIntervalSince1970: seconds + 0.75)
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
            #expect(EntityTimeModule.utcString(date) == expected, "\(seconds)")
        }
    }

    @Test func contactAddressesFormIsInTheServersInfo() async throws {
        let module = try ContactAddressesModule(addresses: [
            "support-addresses": ["https://localhost/support", "xmpp:support@localhost"],
            "abuse-addresses": ["mailto:abuse@localhost"],
            "sales-addresses": [],
        ])
        let harness = try await ServiceHarness([DiscoModule(), module])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: ServiceDiscoveryInfo.namespace))
        let form = try #require(reply?.child("query")?.child("x", namespace: "jabber:x:data"))
        #expect(form[attribute: "type"] == "result")
        let fields = form.elements.filter { $0.name == "field" }
        #expect(fields.map { $0[attribute: "var"] } == ["FORM_TYPE", "abuse-addresses", "support-addresses"])
        #expect(fields[0][attribute: "type"] == "hidden")
        #expect(fields[0].child("value")?.text == "http://jabber.org/network/serverinfo")
        #expect(fields[1][attribute: "type"] == "list-multi")
        #expect(fields[2].elements.map(\.text) == ["https://localhost/support", "xmpp:support@localhost"])
    }

    @Test func noAddressesNoForm() async throws {
        let harness = try await ServiceHarness([DiscoModule(), try ContactAddressesModule(addresses: ["admin-addresses": []])])
        #expect(harness.kernel.serverExtensions.isEmpty)
    }

    @Test func badContactAddressConfigurationIsRefused() {
        #expect(throws: ContactAddressesModule.ConfigurationError.unknownField("boss-addresses")) {
            try ContactAddressesModule(addresses: ["boss-addresses": ["mailto:boss@localhost"]])
        }
        #expect(throws: ContactAddressesModule.ConfigurationError.notAURI(field: "status-addresses", value: "status page")) {
            try ContactAddressesModule(addresses: ["status-addresses": ["https://status.localhost", "status page"]])
        }
        #expect(ContactAddressesModule.looksLikeURI("xmpp:admin@localhost"))
        #expect(ContactAddressesModule.looksLikeURI("https://status.localhost/"))
        for bad in ["", ":x", "1http://x", "http:", "http://a b", "no-scheme"] {
            #expect(!ContactAddressesModule.looksLikeURI(bad), "\(bad)")
        }
    }
}
