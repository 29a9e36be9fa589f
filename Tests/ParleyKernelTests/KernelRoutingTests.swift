import Logging
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM
@testable import ParleyKernel

final class FakeSession: SessionHandle {
    let jid: JID
    private let state = Mutex<(delivered: [XElement], terminated: [StreamError])>(([], []))

    init(jid: JID) { self.jid = jid }

    func deliver(_ element: XElement) { state.withLock { $0.delivered.append(element) } }
    func terminate(_ error: StreamError) { state.withLock { $0.terminated.append(error) } }

    var delivered: [XElement] { state.withLock { $0.delivered } }
    var terminated: [StreamError] { state.withLock { $0.terminated } }
}

private func makeKernel() -> Kernel {
    Kernel(hosts: ["localhost"], modules: [PingModule()], logger: Logger(label: "test"))
}

private func login(_ kernel: Kernel, _ jid: String) -> FakeSession {
    let full = try! JID(jid)
    return kernel.bind(user: full.bare, resource: full.resourcepart) { FakeSession(jid: $0) } as! FakeSession
}

private func stanza(_ name: String, _ attributes: KeyValuePairs<String, String>, _ children: [XElement] = []) -> Stanza {
    Stanza(XElement(name, namespace: NS.client, attributes, children: children.map { .element($0) }))!
}

private func errorCondition(_ element: XElement?) -> String? {
    element?.child("error")?.elements.first { $0.namespace == NS.stanzaErrors }?.name
}

private func run(_ work: Kernel.PendingWork?) async {
    if let work { await work() }
}

@Suite struct KernelRoutingTests {
    @Test func pingToTheServerIsAnswered() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        await run(kernel.route(stanza("iq", ["type": "get", "id": "p1", "to": "localhost", "from": "alice@localhost/a"], [XElement("ping", namespace: NS.ping)]), from: alice.jid))
        let reply = alice.delivered.first
        #expect(reply?[attribute: "type"] == "result")
        #expect(reply?[attribute: "id"] == "p1")
        #expect(reply?[attribute: "from"] == "localhost")
        #expect(reply?[attribute: "to"] == "alice@localhost/a")
    }

    @Test func unservedIQIsServiceUnavailable() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        await run(kernel.route(stanza("iq", ["type": "get", "id": "q", "to": "localhost", "from": "alice@localhost/a"], [XElement("query", namespace: "urn:example:none")]), from: alice.jid))
        #expect(errorCondition(alice.delivered.first) == "service-unavailable")
        #expect(alice.delivered.first?[attribute: "type"] == "error")
    }

    @Test func malformedIQsAreBadRequests() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        await run(kernel.route(stanza("iq", ["type": "get", "to": "localhost", "from": "alice@localhost/a"], [XElement("ping", namespace: NS.ping)]), from: alice.jid))
        await run(kernel.route(stanza("iq", ["type": "get", "id": "2", "to": "localhost", "from": "alice@localhost/a"]), from: alice.jid))
        await run(kernel.route(stanza("iq", ["type": "set", "id": "3", "from": "alice@localhost/a"], [XElement("a", namespace: "urn:x"), XElement("b", namespace: "urn:x")]), from: alice.jid))
        await run(kernel.route(stanza("iq", ["type": "bogus", "id": "4", "from": "alice@localhost/a"], [XElement("a", namespace: "urn:x")]), from: alice.jid))
        #expect(alice.delivered.map(errorCondition) == ["bad-request", "bad-request", "bad-request", "bad-request"])
    }

    @Test func messagesReachTheAddressedSession() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        let bob = login(kernel, "bob@localhost/b")
        await run(kernel.route(stanza("message", ["to": "bob@localhost/b", "from": "alice@localhost/a", "type": "chat"]), from: alice.jid))
        await run(kernel.route(stanza("message", ["to": "bob@localhost", "from": "alice@localhost/a", "type": "chat"]), from: alice.jid))
        #expect(bob.delivered.count == 2)
        #expect(alice.delivered.isEmpty)
    }

    @Test func messageToAnOfflineUserBounces() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        await run(kernel.route(stanza("message", ["to": "carol@localhost", "from": "alice@localhost/a", "id": "m1"]), from: alice.jid))
        #expect(errorCondition(alice.delivered.first) == "service-unavailable")
        #expect(alice.delivered.first?[attribute: "from"] == "carol@localhost")
    }

    @Test func remoteDomainsAreNotFoundUntilFederationExists() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        await run(kernel.route(stanza("message", ["to": "juliet@capulet.example", "from": "alice@localhost/a"]), from: alice.jid))
        #expect(errorCondition(alice.delivered.first) == "remote-server-not-found")
    }

    @Test func malformedAddressesAreJIDMalformed() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        await run(kernel.route(stanza("message", ["to": "a@b@c", "from": "alice@localhost/a"]), from: alice.jid))
        #expect(errorCondition(alice.delivered.first) == "jid-malformed")
    }

    @Test func errorsAreNeverAnsweredWithErrors() async {
        let kernel = makeKernel()
        let alice = login(kernel, "alice@localhost/a")
        await run(kernel.route(stanza("message", ["to": "carol@localhost", "from": "alice@localhost/a", "type": "error"]), from: alice.jid))
        await run(kernel.route(stanza("iq", ["to": "carol@localhost/x", "from": "alice@localhost/a", "type": "result", "id": "1"]), from: alice.jid))
        #expect(alice.delivered.isEmpty)
    }

    @Test func rebindingAFullJIDReplacesTheOldSession() {
        let kernel = makeKernel()
        let first = login(kernel, "alice@localhost/a")
        let second = login(kernel, "alice@localhost/a")
        #expect(first.terminated.map(\.condition) == [.conflict])
        #expect(kernel.sessions.session(for: try! JID("alice@localhost/a")) === second)
        #expect(kernel.sessions.count == 1)
        kernel.unbind(first)
        #expect(kernel.sessions.count == 1, "unbinding a replaced session must not remove its successor")
        kernel.unbind(second)
        #expect(kernel.sessions.count == 0)
    }

    @Test func generatedResourcesAreUnique() {
        let kernel = makeKernel()
        let a = kernel.bind(user: try! JID("alice@localhost"), resource: nil) { FakeSession(jid: $0) }
        let b = kernel.bind(user: try! JID("alice@localhost"), resource: nil) { FakeSession(jid: $0) }
        #expect(a.jid.resourcepart != nil && a.jid != b.jid)
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
