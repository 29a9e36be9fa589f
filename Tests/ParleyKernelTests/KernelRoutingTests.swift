import Logging
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
import ParleyStorage
@testable import ParleyIM
@testable import ParleyKernel

final class FakeTransport: SessionHandle {
    private let state = Mutex<(delivered: [XElement], terminated: [StreamError])>(([], []))

    func deliver(_ element: XElement) { state.withLock { $0.delivered.append(element) } }
    func terminate(_ error: StreamError) { state.withLock { $0.terminated.append(error) } }

    var delivered: [XElement] { state.withLock { $0.delivered } }
    var terminated: [StreamError] { state.withLock { $0.terminated } }
}

private func makeKernel() -> Kernel {
    Kernel(hosts: ["localhost"], accounts: InMemoryAccountStore(), modules: [PingModule()], logger: Logger(label: "test"))
}

/// A bound session whose transport records what it is sent.
struct Client {
    let session: LocalSession
    let transport: FakeTransport
    var jid: JID { session.jid }
    var delivered: [XElement] { transport.delivered }
    var terminated: [StreamError] { transport.terminated }
}

private func login(_ kernel: Kernel, _ jid: String, available: Bool = true) async -> Client {
    let full = try! JID(jid)
    let transport = FakeTransport()
    let session = await kernel.bind(user: full.bare, resource: full.resourcepart, transport: transport)
    if available { session.update { $0.availablePresence = XElement("presence", namespace: NS.client) } }
    return Client(session: session, transport: transport)
}

private func stanza(_ name: String, _ attributes: KeyValuePairs<String, String>, _ children: [XElement] = []) -> Stanza {
    Stanza(XElement(name, namespace: NS.client, attributes, children: children.map { .element($0) }))!
}

private func errorCondition(_ element: XElement?) -> String? {
    element?.child("error")?.elements.first { $0.namespace == NS.stanzaErrors }?.name
}


@Suite struct KernelRoutingTests {
    @Test func pingToTheServerIsAnswered() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        await kernel.route(stanza("iq", ["type": "get", "id": "p1", "to": "localhost", "from": "alice@localhost/a"], [XElement("ping", namespace: NS.ping)]), from: alice.session)
        let reply = alice.delivered.first
        #expect(reply?[attribute: "type"] == "result")
        #expect(reply?[attribute: "id"] == "p1")
        #expect(reply?[attribute: "from"] == "localhost")
        #expect(reply?[attribute: "to"] == "alice@localhost/a")
    }

    @Test func unservedIQIsServiceUnavailable() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        await kernel.route(stanza("iq", ["type": "get", "id": "q", "to": "localhost", "from": "alice@localhost/a"], [XElement("query", namespace: "urn:example:none")]), from: alice.session)
        #expect(errorCondition(alice.delivered.first) == "service-unavailable")
        #expect(alice.delivered.first?[attribute: "type"] == "error")
    }

    @Test func malformedIQsAreBadRequests() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        await kernel.route(stanza("iq", ["type": "get", "to": "localhost", "from": "alice@localhost/a"], [XElement("ping", namespace: NS.ping)]), from: alice.session)
        await kernel.route(stanza("iq", ["type": "get", "id": "2", "to": "localhost", "from": "alice@localhost/a"]), from: alice.session)
        await kernel.route(stanza("iq", ["type": "set", "id": "3", "from": "alice@localhost/a"], [XElement("a", namespace: "urn:x"), XElement("b", namespace: "urn:x")]), from: alice.session)
        await kernel.route(stanza("iq", ["type": "bogus", "id": "4", "from": "alice@localhost/a"], [XElement("a", namespace: "urn:x")]), from: alice.session)
        #expect(alice.delivered.map(errorCondition) == ["bad-request", "bad-request", "bad-request", "bad-request"])
    }

    @Test func messagesReachTheAddressedSession() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        let bob = await login(kernel, "bob@localhost/b")
        await kernel.route(stanza("message", ["to": "bob@localhost/b", "from": "alice@localhost/a", "type": "chat"]), from: alice.session)
        await kernel.route(stanza("message", ["to": "bob@localhost", "from": "alice@localhost/a", "type": "chat"]), from: alice.session)
        #expect(bob.delivered.count == 2)
        #expect(alice.delivered.isEmpty)
    }

    @Test func messageToAnOfflineUserBounces() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        await kernel.route(stanza("message", ["to": "carol@localhost", "from": "alice@localhost/a", "id": "m1"]), from: alice.session)
        #expect(errorCondition(alice.delivered.first) == "service-unavailable")
        #expect(alice.delivered.first?[attribute: "from"] == "carol@localhost")
    }

    @Test func remoteDomainsAreNotFoundUntilFederationExists() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        await kernel.route(stanza("message", ["to": "juliet@capulet.example", "from": "alice@localhost/a"]), from: alice.session)
        #expect(errorCondition(alice.delivered.first) == "remote-server-not-found")
    }

    @Test func malformedAddressesAreJIDMalformed() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        await kernel.route(stanza("message", ["to": "a@b@c", "from": "alice@localhost/a"]), from: alice.session)
        #expect(errorCondition(alice.delivered.first) == "jid-malformed")
    }

    @Test func errorsAreNeverAnsweredWithErrors() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        await kernel.route(stanza("message", ["to": "carol@localhost", "from": "alice@localhost/a", "type": "error"]), from: alice.session)
        await kernel.route(stanza("iq", ["to": "carol@localhost/x", "from": "alice@localhost/a", "type": "result", "id": "1"]), from: alice.session)
        #expect(alice.delivered.isEmpty)
    }

    @Test func rebindingAFullJIDReplacesTheOldSession() async {
        let kernel = makeKernel()
        let first = await login(kernel, "alice@localhost/a")
        let second = await login(kernel, "alice@localhost/a")
        #expect(first.terminated.map(\.condition) == [.conflict])
        #expect(kernel.sessions.session(for: try! JID("alice@localhost/a")) === second.session)
        #expect(kernel.sessions.count == 1)
        await kernel.unbind(first.session)
        #expect(kernel.sessions.count == 1, "unbinding a replaced session must not remove its successor")
        await kernel.unbind(second.session)
        #expect(kernel.sessions.count == 0)
    }

    @Test func generatedResourcesAreUnique() async {
        let kernel = makeKernel()
        let a = await kernel.bind(user: try! JID("alice@localhost"), resource: nil, transport: FakeTransport())
        let b = await kernel.bind(user: try! JID("alice@localhost"), resource: nil, transport: FakeTransport())
        #expect(a.jid.resourcepart != nil && a.jid != b.jid)
    }

    @Test func bareJIDMessagesGoToTheHighestNonNegativePriority() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        let high = await login(kernel, "bob@localhost/high")
        let low = await login(kernel, "bob@localhost/low")
        let negative = await login(kernel, "bob@localhost/neg")
        let unavailable = await login(kernel, "bob@localhost/quiet", available: false)
        high.session.update { $0.priority = 5 }
        low.session.update { $0.priority = 1 }
        negative.session.update { $0.priority = -1 }
        await kernel.route(stanza("message", ["to": "bob@localhost", "from": "alice@localhost/a", "type": "chat"]), from: alice.session)
        #expect(high.delivered.count == 1)
        #expect(low.delivered.isEmpty && negative.delivered.isEmpty && unavailable.delivered.isEmpty)
        await kernel.route(stanza("message", ["to": "bob@localhost", "from": "alice@localhost/a", "type": "headline"]), from: alice.session)
        #expect(high.delivered.count == 2 && low.delivered.count == 1 && negative.delivered.isEmpty)
    }

    @Test func bareJIDMessagesGoToEveryResourceSharingTheHighestPriority() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        // Bound lowest first, so the highest is found after a lower one was taken.
        let low = await login(kernel, "bob@localhost/low")
        let first = await login(kernel, "bob@localhost/first")
        let second = await login(kernel, "bob@localhost/second")
        low.session.update { $0.priority = 1 }
        first.session.update { $0.priority = 5 }
        second.session.update { $0.priority = 5 }
        await kernel.route(stanza("message", ["to": "bob@localhost", "from": "alice@localhost/a", "type": "chat"]), from: alice.session)
        #expect(low.delivered.isEmpty)
        #expect(first.delivered.count == 1 && second.delivered.count == 1)
    }

    @Test func messagesToOnlyNegativePriorityResourcesAreUndeliverable() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        let negative = await login(kernel, "bob@localhost/neg")
        negative.session.update { $0.priority = -1 }
        await kernel.route(stanza("message", ["to": "bob@localhost", "from": "alice@localhost/a", "type": "chat"]), from: alice.session)
        #expect(negative.delivered.isEmpty)
        #expect(errorCondition(alice.delivered.first) == "service-unavailable")
    }

    @Test func groupchatToAnOfflineResourceIsAnError() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        _ = await login(kernel, "bob@localhost/b")
        await kernel.route(stanza("message", ["to": "bob@localhost/gone", "from": "alice@localhost/a", "type": "groupchat"]), from: alice.session)
        #expect(errorCondition(alice.delivered.first) == "service-unavailable")
    }

    @Test func presenceAndIQToOfflineResources() async {
        let kernel = makeKernel()
        let alice = await login(kernel, "alice@localhost/a")
        let bob = await login(kernel, "bob@localhost/b")
        await kernel.route(stanza("presence", ["to": "bob@localhost/gone", "from": "alice@localhost/a"]), from: alice.session)
        #expect(alice.delivered.isEmpty && bob.delivered.isEmpty)
        await kernel.route(stanza("iq", ["to": "bob@localhost/gone", "from": "alice@localhost/a", "type": "get", "id": "1"], [XElement("query", namespace: "urn:x")]), from: alice.session)
        #expect(errorCondition(alice.delivered.first) == "service-unavailable")
    }

    @Test func rateLimiterBlocksAfterTheLimit() {
        let clock = Mutex<Int64>(0)
        let limiter = AddressRateLimiter(limit: 2, windowSeconds: 60, now: { clock.withLock { $0 } })
        limiter.record("1.2.3.4")
        #expect(!limiter.isBlocked("1.2.3.4"))
        limiter.record("1.2.3.4")
        #expect(limiter.isBlocked("1.2.3.4"))
        #expect(!limiter.isBlocked("5.6.7.8"))
        clock.withLock { $0 = 61 }
        #expect(!limiter.isBlocked("1.2.3.4"))
    }
}
