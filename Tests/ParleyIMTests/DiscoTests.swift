import ParleyIM
import ParleyKernel
import ParleyStorage
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML

@Suite("Service discovery (XEP-0030, XEP-0128)")
struct DiscoTests {
    private let info = ServiceDiscoveryInfo.namespace
    private let items = ServiceDiscoveryInfo.itemsNamespace

    private func features(_ reply: XElement?) -> [String] {
        reply?.child("query")?.elements.filter { $0.name == "feature" }.compactMap { $0[attribute: "var"] } ?? []
    }

    private func identities(_ reply: XElement?) -> [[String?]] {
        reply?.child("query")?.elements.filter { $0.name == "identity" }
            .map { [$0[attribute: "category"], $0[attribute: "type"], $0[attribute: "name"]] } ?? []
    }

    @Test func serverInfoListsIdentityFeaturesAndForms() async throws {
        let contacts = try ContactAddressesModule(addresses: ["abuse-addresses": ["mailto:abuse@localhost"]])
        let harness = try await ServiceHarness([PingModule(), DiscoModule(serverName: "Test Server"), contacts, VCardModule(store: InMemoryVCardStore())])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: info))
        #expect(reply?[attribute: "type"] == "result")
        #expect(reply?[attribute: "from"] == "localhost")
        #expect(identities(reply) == [["server", "im", "Test Server"]])
        let listed = features(reply)
        #expect(listed == listed.sorted())
        #expect(Set(listed) == [info, items, "urn:xmpp:ping", "vcard-temp"])
        // XEP-0128: the forms modules registered.
        let form = try #require(reply?.child("query")?.child("x", namespace: "jabber:x:data"))
        #expect(ServiceDiscoveryInfo.formType(of: form) == "http://jabber.org/network/serverinfo")
    }

    @Test func featuresRegisteredAfterTheDiscoModuleAreListed() async throws {
        let harness = try await ServiceHarness([DiscoModule(), PingModule()])
        let alice = await harness.login("alice@localhost/a")
        #expect(features(await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: info))).contains("urn:xmpp:ping"))
    }

    @Test func serverItemsAreEmpty() async throws {
        let harness = try await ServiceHarness([DiscoModule()])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "get", to: "localhost", XElement("query", namespace: items))
        #expect(reply?[attribute: "type"] == "result")
        let query = try #require(reply?.child("query", namespace: items))
        #expect(query.children.isEmpty)
    }

    @Test(arguments: ["localhost", "alice@localhost"])
    func nodesAreNotFound(_ to: String) async throws {
        let harness = try await ServiceHarness([DiscoModule()])
        let alice = await harness.login("alice@localhost/a")
        for namespace in [info, items] {
            let reply = await harness.iq(alice, "get", to: to, XElement("query", namespace: namespace, ["node": "urn:example:node"]))
            #expect(stanzaErrorCondition(reply) == "item-not-found")
        }
    }

    @Test func anAccountLearnsItsOwnInfo() async throws {
        let harness = try await ServiceHarness([DiscoModule(), PrivateXMLModule(store: InMemoryPrivateXMLStore())])
        let alice = await harness.login("alice@localhost/a")
        for to in [nil, "alice@localhost"] as [String?] {
            let reply = await harness.iq(alice, "get", to: to, XElement("query", namespace: info))
            #expect(reply?[attribute: "type"] == "result")
            #expect(reply?[attribute: "from"] == "alice@localhost")
            // XEP-0030 §3.1: the account's identity is account/registered.
            #expect(identities(reply) == [["account", "registered", nil]])
            #expect(Set(features(reply)) == [info, items, "jabber:iq:private"])
        }
    }

    @Test func othersMayNotLearnAnAccountsInfo() async throws {
        // XEP-0030 §8 rule 1.2: service-unavailable unless allowed to see the account's presence.
        let harness = try await ServiceHarness([DiscoModule()])
        let bob = await harness.login("bob@localhost/b")
        let reply = await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: info))
        #expect(stanzaErrorCondition(reply) == "service-unavailable")
        #expect(stanzaErrorType(reply) == "cancel")
        // The same for a node query, and the same as for an account that does not exist.
        let node = await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: info, ["node": "x"]))
        #expect(stanzaErrorCondition(node) == "service-unavailable")
        let missing = await harness.iq(bob, "get", to: "nobody@localhost", XElement("query", namespace: info))
        #expect(stanzaErrorCondition(missing) == "service-unavailable")
    }

    @Test func contactsAllowedToSeePresenceLearnTheInfo() async throws {
        let asked = Mutex<[[JID]]>([])
        let disco = DiscoModule { requester, account in
            asked.withLock { $0.append([requester, account]) }
            return requester.localpart == "bob"
        }
        let harness = try await ServiceHarness([disco], accounts: ["alice", "bob", "carol"])
        let bob = await harness.login("bob@localhost/b")
        let carol = await harness.login("carol@localhost/c")
        let allowed = await harness.iq(bob, "get", to: "alice@localhost", XElement("query", namespace: info))
        #expect(identities(allowed) == [["account", "registered", nil]])
        let refused = await harness.iq(carol, "get", to: "alice@localhost", XElement("query", namespace: info))
        #expect(stanzaErrorCondition(refused) == "service-unavailable")
        #expect(asked.withLock { $0 } == [[try JID("bob@localhost/b"), try JID("alice@localhost")],
                                        [try JID("carol@localhost/c"), try JID("alice@localhost")]])
    }

    @Test func accountItemsAreEmptyForEveryone() async throws {
        // XEP-0030 §8 rule 2: no available resources are listed.
        let harness = try await ServiceHarness([DiscoModule()])
        let alice = await harness.login("alice@localhost/a")
        let bob = await harness.login("bob@localhost/b")
        for client in [alice, bob] {
            let reply = await harness.iq(client, "get", to: "alice@localhost", XElement("query", namespace: items))
            #expect(reply?[attribute: "type"] == "result")
            #expect(reply?.child("query", namespace: items)?.children.isEmpty == true)
        }
    }

    @Test func setIsNotServed() async throws {
        let harness = try await ServiceHarness([DiscoModule()])
        let alice = await harness.login("alice@localhost/a")
        let reply = await harness.iq(alice, "set", to: "localhost", XElement("query", namespace: info))
        #expect(stanzaErrorCondition(reply) == "service-unavailable")
    }

    @Test func infoRoundTripsThroughItsElement() {
        let original = ServiceDiscoveryInfo(
            identities: [.init(category: "client", type: "pc", name: "Ψ", language: "el"), .init(category: "client", type: "pc", name: "Ψ", language: "el")],
            features: ["b", "a", "b"])
        #expect(original.identities.count == 1)
        #expect(original.features == ["b", "a"])
        let parsed = ServiceDiscoveryInfo(query: original.query(node: "n"))
        #expect(parsed?.identities == original.identities)
        #expect(parsed?.features == ["a", "b"])
        #expect(original.query(node: "n")[attribute: "node"] == "n")
    }
}
