import ParleyKernel
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

@Suite("Message carbons (XEP-0280)")
struct CarbonsTests {
    static let ns = "urn:xmpp:carbons:2"
    static let forward = "urn:xmpp:forward:0"

    private func enable(_ h: MessagingHarness, _ clients: MessagingClient...) async {
        for client in clients {
            let reply = await h.iq(client, "set", XElement("enable", namespace: Self.ns))
            #expect(reply?[attribute: "type"] == "result")
        }
    }

    /// The message inside a carbon copy, checking the wrapper on the way (§7, §8).
    private func forwarded(_ copy: XElement?, _ direction: String, user: String, to: JID,
                           sourceLocation: SourceLocation = #_sourceLocation) -> XElement? {
        guard let copy else {
            Issue.record("no carbon copy", sourceLocation: sourceLocation)
            return nil
        }
        #expect(copy[attribute: "from"] == user, sourceLocation: sourceLocation)
        #expect(copy[attribute: "to"] == to.description, sourceLocation: sourceLocation)
        let inner = copy.child(direction, namespace: Self.ns)?.child("forwarded", namespace: Self.forward)?.child("message", namespace: NS.client)
        #expect(inner != nil, "a <\(direction)/> carbon", sourceLocation: sourceLocation)
        return inner
    }

    @Test func enableAndDisableSetTheSessionFlag() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let alice = await h.login("alice@localhost/a")
        #expect(h.kernel.serverFeatures.contains(Self.ns))
        await enable(h, alice)
        #expect(alice.session.has(flag: "carbons"))
        // Repeated enables are not errors (§10.1); to the own bare JID works too.
        let again = await h.iq(alice, "set", to: "alice@localhost", XElement("enable", namespace: Self.ns))
        #expect(again?[attribute: "type"] == "result")
        let disable = await h.iq(alice, "set", XElement("disable", namespace: Self.ns))
        #expect(disable?[attribute: "type"] == "result")
        #expect(!alice.session.has(flag: "carbons"))
        let disableAgain = await h.iq(alice, "set", XElement("disable", namespace: Self.ns))
        #expect(disableAgain?[attribute: "type"] == "result")
    }

    @Test func anotherUsersCarbonsCannotBeSwitched() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let alice = await h.login("alice@localhost/a")
        let bob = await h.login("bob@localhost/b")
        let reply = await h.iq(alice, "set", to: "bob@localhost", XElement("enable", namespace: Self.ns))
        #expect(MessagingHarness.errorCondition(reply) == "not-allowed")
        #expect(!bob.session.has(flag: "carbons"))
    }

    @Test func receivedMessagesAreCopiedToTheOtherEnabledResourcesOnly() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let alice = await h.login("alice@localhost/a")
        let phone = await h.login("bob@localhost/phone")
        let laptop = await h.login("bob@localhost/laptop")
        let tablet = await h.login("bob@localhost/tablet")
        await enable(h, phone, laptop)
        await h.sendMessage(alice, to: "bob@localhost/phone", body: "to the phone", id: "m1")

        #expect(MessagingHarness.bodies(phone.messages) == ["to the phone"], "the addressee gets the original only (§7)")
        #expect(tablet.messages.isEmpty, "a client without carbons gets nothing")
        #expect(laptop.messages.count == 1)
        let copy = laptop.messages.first
        #expect(copy?[attribute: "type"] == "chat")
        let inner = forwarded(copy, "received", user: "bob@localhost", to: laptop.jid)
        #expect(inner?[attribute: "from"] == "alice@localhost/a")
        #expect(inner?[attribute: "to"] == "bob@localhost/phone")
        #expect(inner?[attribute: "id"] == "m1")
        #expect(inner?.child("body")?.text == "to the phone")
    }

    @Test func bareJIDMessagesAreCopiedToEnabledResourcesThatDidNotGetThem() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let alice = await h.login("alice@localhost/a")
        let high = await h.login("bob@localhost/high", priority: 5)
        let low = await h.login("bob@localhost/low", priority: 1)
        await enable(h, high, low)
        await h.sendMessage(alice, to: "bob@localhost", body: "hello")
        #expect(MessagingHarness.bodies(high.messages) == ["hello"])
        #expect(forwarded(low.messages.first, "received", user: "bob@localhost", to: low.jid)?.child("body")?.text == "hello")
    }

    @Test func sentMessagesAreCopiedToTheSendersOtherEnabledResources() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let a = await h.login("alice@localhost/a")
        let b = await h.login("alice@localhost/b")
        let c = await h.login("alice@localhost/c")
        let bob = await h.login("bob@localhost/b")
        // The sending client need not have carbons enabled (§8); enabling it must not copy to itself.
        await enable(h, a, b)
        await h.sendMessage(a, to: "bob@localhost/b", body: "sent", id: "s1")
        #expect(MessagingHarness.bodies(bob.messages) == ["sent"])
        #expect(a.messages.isEmpty, "no copy to the sending client (§8)")
        #expect(c.messages.isEmpty, "no copy to a client without carbons")
        let inner = forwarded(b.messages.first, "sent", user: "alice@localhost", to: b.jid)
        #expect(b.messages.first?[attribute: "type"] == "chat")
        #expect(inner?[attribute: "from"] == "alice@localhost/a")
        #expect(inner?[attribute: "to"] == "bob@localhost/b")
        #expect(inner?[attribute: "id"] == "s1")
    }

    @Test func privateAndNoCopyMessagesAreNotCopied() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let a = await h.login("alice@localhost/a")
        let b = await h.login("alice@localhost/b")
        let phone = await h.login("bob@localhost/phone")
        let laptop = await h.login("bob@localhost/laptop")
        await enable(h, a, b, phone, laptop)
        let privateElement = XElement("private", namespace: Self.ns)
        let noCopy = XElement("no-copy", namespace: "urn:xmpp:hints")
        await h.sendMessage(a, to: "bob@localhost/phone", body: "private", extra: [privateElement, noCopy])
        await h.sendMessage(a, to: "bob@localhost/phone", body: "private only", extra: [privateElement])
        await h.sendMessage(a, to: "bob@localhost/phone", body: "no-copy only", extra: [noCopy])
        // §9: neither the sender's nor the recipient's server copies it.
        #expect(b.messages.isEmpty)
        #expect(laptop.messages.isEmpty)
        #expect(MessagingHarness.bodies(phone.messages) == ["private", "private only", "no-copy only"])
        // The element stays in the delivered message.
        #expect(phone.messages.first?.child("private", namespace: Self.ns) != nil)
    }

    @Test func disabledResourcesGetNoCopies() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let alice = await h.login("alice@localhost/a")
        let phone = await h.login("bob@localhost/phone")
        let laptop = await h.login("bob@localhost/laptop")
        await enable(h, laptop)
        await h.iq(laptop, "set", XElement("disable", namespace: Self.ns))
        laptop.clear()
        await h.sendMessage(alice, to: "bob@localhost/phone")
        await h.sendMessage(laptop, to: "alice@localhost/a")
        #expect(laptop.messages.isEmpty)
        #expect(phone.messages.count == 1)
    }

    @Test func eligibilityFollowsTheRecommendedRules() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let alice = await h.login("alice@localhost/a")
        let phone = await h.login("bob@localhost/phone")
        let laptop = await h.login("bob@localhost/laptop")
        await enable(h, laptop)
        let chatState = XElement("active", namespace: "http://jabber.org/protocol/chatstates")
        let mucUser = XElement("x", namespace: "http://jabber.org/protocol/muc#user")
        let invite = XElement("x", namespace: "http://jabber.org/protocol/muc#user",
                              children: [.element(XElement("invite", namespace: "http://jabber.org/protocol/muc#user", ["from": "carol@localhost"]))])
        let cases: [(XElement, Bool)] = [
            (MessagingHarness.message(to: "bob@localhost/phone", type: "normal", body: "body"), true),
            (MessagingHarness.message(to: "bob@localhost/phone", type: nil, body: "no type"), true),
            (MessagingHarness.message(to: "bob@localhost/phone", type: "normal", body: nil), false),
            (MessagingHarness.message(to: "bob@localhost/phone", type: "normal", body: nil, extra: [chatState]), true),
            (MessagingHarness.message(to: "bob@localhost/phone", type: "headline", body: "news"), false),
            (MessagingHarness.message(to: "bob@localhost/phone", type: "groupchat", body: "room"), false),
            (MessagingHarness.message(to: "bob@localhost/phone", type: "chat", body: nil, extra: [chatState]), true),
        ]
        for (message, copied) in cases {
            laptop.clear()
            await h.send(alice, message)
            #expect((laptop.messages.count == 1) == copied, "\(message)")
        }
        // A private message from a MUC occupant (a full JID, with muc#user) is not copied; a
        // mediated invitation from the room is.
        laptop.clear()
        await h.kernel.dispatch(Stanza(MessagingHarness.message(from: "room@muc.localhost/nick", to: "bob@localhost/phone", extra: [mucUser]))!)
        #expect(laptop.messages.isEmpty)
        await h.kernel.dispatch(Stanza(MessagingHarness.message(from: "room@muc.localhost", to: "bob@localhost/phone", type: nil, body: nil, extra: [invite]))!)
        #expect(laptop.messages.count == 1)
        #expect(phone.messages.count == 7 + 2)
    }

    @Test func messagesBetweenOwnResourcesAreCopiedOnce() async throws {
        let h = try await MessagingHarness([CarbonsModule()])
        let a = await h.login("alice@localhost/a")
        let b = await h.login("alice@localhost/b")
        let c = await h.login("alice@localhost/c")
        await enable(h, a, b, c)
        await h.sendMessage(a, to: "alice@localhost/b", body: "note to self")
        #expect(MessagingHarness.bodies(b.messages) == ["note to self"])
        #expect(a.messages.isEmpty)
        #expect(c.messages.count == 1)
        #expect(c.messages.first?.child("received", namespace: Self.ns) != nil)
    }

    @Test func forwardedServerNamespaceStanzasBecomeClientNamespace() {
        var original = XElement("message", namespace: NS.server, ["from": "juliet@capulet.example/balcony", "to": "bob@localhost"])
        original.append(XElement("body", namespace: NS.server, children: [.text("hi")]))
        let copy = CarbonsModule.wrap(original, in: "received", user: try! JID("bob@localhost"), for: try! JID("bob@localhost/x"))
        let inner = copy.child("received", namespace: Self.ns)?.child("forwarded", namespace: Self.forward)?.elements.first
        #expect(inner?.namespace == NS.client)
        #expect(inner?.child("body", namespace: NS.client)?.text == "hi")
        #expect(copy[attribute: "type"] == nil)
    }
}
