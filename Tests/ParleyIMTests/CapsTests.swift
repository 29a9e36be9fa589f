import ParleyIM
import ParleyKernel
import Testing
import XMPPProtocol
import XMPPXML

@Suite("Entity capabilities (XEP-0115)")
struct CapsTests {
    private static let disco = "http://jabber.org/protocol/disco#"

    @Test func simpleGenerationExample() {
        // XEP-0115 §5.2.
        let info = ServiceDiscoveryInfo(
            identities: [.init(category: "client", type: "pc", name: "Exodus 0.9.1")],
            features: [Self.disco + "info", Self.disco + "items", "http://jabber.org/protocol/muc", "http://jabber.org/protocol/caps"])
        #expect(EntityCapabilities.verificationInput(of: info) ==
            "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<"
            + "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<")
        #expect(EntityCapabilities.verificationString(of: info) == "QgayPKawpkPSDYmwT/WM94uAlu0=")
    }

    @Test func complexGenerationExample() {
        // XEP-0115 §5.3: identities in two languages and a XEP-0128 form, everything given out of order.
        let x = "jabber:x:data"
        func field(_ name: String, _ type: String?, _ values: [String]) -> XElement {
            var field = XElement("field", namespace: x, ["var": name])
            if let type { field[attribute: "type"] = type }
            for value in values { field.append(XElement("value", namespace: x, children: [.text(value)])) }
            return field
        }
        var form = XElement("x", namespace: x, ["type": "result"])
        form.append(field("os_version", nil, ["10.5.1"]))
        form.append(field("FORM_TYPE", "hidden", ["urn:xmpp:dataforms:softwareinfo"]))
        form.append(field("ip_version", "text-multi", ["ipv6", "ipv4"]))
        form.append(field("software", nil, ["Psi"]))
        form.append(field("os", nil, ["Mac"]))
        form.append(field("software_version", nil, ["0.11"]))
        let info = ServiceDiscoveryInfo(
            identities: [
                .init(category: "client", type: "pc", name: "Psi 0.11", language: "en"),
                .init(category: "client", type: "pc", name: "Ψ 0.11", language: "el"),
            ],
            features: [Self.disco + "items", "http://jabber.org/protocol/muc", Self.disco + "info", "http://jabber.org/protocol/caps"],
            forms: [form])
        #expect(EntityCapabilities.verificationInput(of: info) ==
            "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<"
            + "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<"
            + "ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<")
        #expect(EntityCapabilities.verificationString(of: info) == "q07IKJEyjvHSyhy//CH0CxmKi8w=")
    }

    @Test func sortingIsByOctets() {
        // "i;octet": uppercase before lowercase, "é" (0xC3…) after "z".
        let info = ServiceDiscoveryInfo(
            identities: [.init(category: "b", type: "x"), .init(category: "B", type: "x"), .init(category: "a", type: "y")],
            features: ["é", "z", "Z", "a"])
        #expect(EntityCapabilities.verificationInput(of: info) == "B/x//<a/y//<b/x//<Z<a<z<é<")
    }

    @Test func formsWithoutAHiddenFormTypeAreLeftOut() {
        let x = "jabber:x:data"
        var visible = XElement("x", namespace: x, ["type": "result"])
        visible.append(XElement("field", namespace: x, ["var": "FORM_TYPE"], children: [.element(XElement("value", namespace: x, children: [.text("urn:a")]))]))
        let info = ServiceDiscoveryInfo(identities: [.init(category: "server", type: "im")], features: ["f"], forms: [visible])
        #expect(EntityCapabilities.verificationInput(of: info) == "server/im//<f<")
    }

    private func makeHarness() async throws -> (ServiceHarness, CapsModule) {
        let caps = CapsModule(node: "https://parley.example/caps")
        let contacts = try ContactAddressesModule(addresses: ["admin-addresses": ["mailto:admin@localhost", "xmpp:admin@localhost"]])
        let harness = try await ServiceHarness([DiscoModule(), caps, PingModule(), contacts, SoftwareVersionModule()])
        return (harness, caps)
    }

    @Test func streamFeatureHashesWhatDiscoInfoAnswers() async throws {
        let (harness, caps) = try await makeHarness()
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: ServiceDiscoveryInfo.namespace))
        let answered = try #require(reply?.child("query", namespace: ServiceDiscoveryInfo.namespace).flatMap(ServiceDiscoveryInfo.init(query:)))
        // XEP-0115 §7: the caps feature is advertised.
        #expect(answered.features.contains(EntityCapabilities.namespace))
        #expect(!answered.forms.isEmpty)

        let feature = caps.streamFeature(for: harness.kernel)
        #expect(feature.name == "c")
        #expect(feature.namespace == "http://jabber.org/protocol/caps")
        #expect(feature[attribute: "hash"] == "sha-1")
        #expect(feature[attribute: "node"] == "https://parley.example/caps")
        #expect(feature[attribute: "ver"] == EntityCapabilities.verificationString(of: answered))
    }

    @Test func theCapsNodeIsAnsweredLikeThePlainQuery() async throws {
        let (harness, caps) = try await makeHarness()
        let alice = await harness.login("alice@localhost/a")
        let plain = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: ServiceDiscoveryInfo.namespace))
        let node = "https://parley.example/caps#" + caps.verificationString(for: harness.kernel)
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: ServiceDiscoveryInfo.namespace, ["node": node]))
        #expect(reply?[attribute: "type"] == "result")
        #expect(reply?[attribute: "from"] == "localhost")
        let query = try #require(reply?.child("query", namespace: ServiceDiscoveryInfo.namespace))
        // XEP-0030 §3.2: the node is mirrored; the content is the plain answer's.
        #expect(query[attribute: "node"] == node)
        #expect(query.children == plain?.child("query", namespace: ServiceDiscoveryInfo.namespace)?.children)
    }

    @Test func anOutdatedVerIsAnUnknownNode() async throws {
        let (harness, _) = try await makeHarness()
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement(
            "query", namespace: ServiceDiscoveryInfo.namespace, ["node": "https://parley.example/caps#QgayPKawpkPSDYmwT/WM94uAlu0="]))
        #expect(stanzaErrorCondition(reply) == "item-not-found")
    }

    @Test func verChangesWithTheFeatures() async throws {
        let caps = CapsModule()
        let small = try await ServiceHarness([DiscoModule(), caps])
        let large = try await ServiceHarness([DiscoModule(), caps, PingModule()])
        #expect(caps.verificationString(for: small.kernel) != caps.verificationString(for: large.kernel))
    }
}
