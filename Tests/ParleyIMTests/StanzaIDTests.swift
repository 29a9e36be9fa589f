import ParleyKernel
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

@Suite("Unique stanza ids (XEP-0359)")
struct StanzaIDTests {
    static let ns = "urn:xmpp:sid:0"

    private func stanzaIDs(_ message: XElement?) -> [XElement] {
        message?.elements.filter { $0.name == "stanza-id" && $0.namespace == Self.ns } ?? []
    }

    @Test func messagesToAnAccountGetAStanzaIDByThatAccount() async throws {
        let h = try await MessagingHarness([StanzaIDModule()])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/phone")
        await h.sendMessage(alice, to: "bob@localhost")
        await h.sendMessage(alice, to: "bob@localhost/phone")
        await h.sendMessage(alice, to: "bob@localhost", type: "headline")
        #expect(bob.messages.count == 3)
        var seen: Set<String> = []
        for message in bob.messages {
            let ids = stanzaIDs(message)
            #expect(ids.count == 1)
            #expect(ids.first?[attribute: "by"] == "bob@localhost", "the account's bare JID, also for full-JID messages")
            let id = try #require(ids.first?[attribute: "id"])
            // A random (version 4) UUID.
            #expect(id.count == 36 && Array(id)[14] == "4")
            seen.insert(id)
        }
        #expect(seen.count == 3, "ids are unique")
        #expect(h.kernel.accountFeatures.contains(Self.ns))
        #expect(!h.kernel.serverFeatures.contains(Self.ns))
    }

    @Test func aSpoofedStanzaIDIsReplacedAndOthersAreKept() async throws {
        let h = try await MessagingHarness([StanzaIDModule(makeID: { "fresh" })])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/phone")
        let spoofed = XElement("stanza-id", namespace: Self.ns, ["id": "fake", "by": "bob@localhost"])
        let spoofedUnnormalised = XElement("stanza-id", namespace: Self.ns, ["id": "fake2", "by": "BOB@LocalHost"])
        let room = XElement("stanza-id", namespace: Self.ns, ["id": "room-id", "by": "room@muc.example"])
        let origin = XElement("origin-id", namespace: Self.ns, ["id": "origin"])
        await h.sendMessage(alice, to: "bob@localhost", extra: [spoofed, spoofedUnnormalised, room, origin])
        let message = try #require(bob.messages.first)
        let ids = stanzaIDs(message)
        #expect(ids.map { $0[attribute: "id"] } == ["room-id", "fresh"])
        #expect(ids.last?[attribute: "by"] == "bob@localhost")
        // §2.2: the origin-id is preserved.
        #expect(message.child("origin-id", namespace: Self.ns)?[attribute: "id"] == "origin")
    }

    @Test func errorsAndGroupchatsGetNoAccountIDButLoseSpoofedOnes() async throws {
        let h = try await MessagingHarness([StanzaIDModule(makeID: { "fresh" })])
        let bob = await h.login("bob@localhost/phone")
        let spoofed = XElement("stanza-id", namespace: Self.ns, ["id": "fake", "by": "bob@localhost"])
        let room = XElement("stanza-id", namespace: Self.ns, ["id": "r1", "by": "room@muc.localhost"])
        await h.kernel.dispatch(Stanza(MessagingHarness.message(from: "room@muc.localhost/nick", to: "bob@localhost/phone", type: "groupchat", extra: [spoofed, room]))!)
        await h.kernel.dispatch(Stanza(MessagingHarness.message(from: "carol@localhost/c", to: "bob@localhost/phone", type: "error", extra: [spoofed]))!)
        #expect(bob.messages.count == 2)
        #expect(stanzaIDs(bob.messages[0]).map { $0[attribute: "id"] } == ["r1"])
        #expect(stanzaIDs(bob.messages[1]).isEmpty)
    }

    @Test func otherStanzasAreUntouched() async throws {
        let h = try await MessagingHarness([StanzaIDModule()])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/phone")
        await h.send(alice, XElement("presence", namespace: NS.client, ["to": "bob@localhost"]))
        #expect(bob.presences.count == 1)
        #expect(bob.presences.first?.elements.isEmpty == true)
    }
}
