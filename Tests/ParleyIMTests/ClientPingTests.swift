@testable import ParleyIM
import ParleyKernel
import Testing
import XMPPProtocol
import XMPPXML

@Suite("Server-to-client pings (XEP-0199 §4.2)")
struct ClientPingTests {
    /// Pings often; waits long enough for an answer that a loaded machine cannot miss it.
    private let module = ClientPingModule(interval: .milliseconds(40), timeout: .seconds(10))

    private func pings(_ client: ServiceClient) -> [XElement] {
        client.delivered.filter { $0.child("ping", namespace: NS.ping) != nil }
    }

    /// Answers each server ping through the kernel, as a client would.
    private func answer(_ client: ServiceClient, in harness: ServiceHarness, withError: Bool = false) {
        let kernel = harness.kernel
        let session = client.session
        client.transport.respond { element in
            guard element.name == "iq", element[attribute: "type"] == "get", let id = element[attribute: "id"] else { return }
            var reply = XElement("iq", namespace: NS.client, [
                "type": withError ? "error" : "result", "id": id,
                "from": session.jid.description, "to": element[attribute: "from"] ?? "",
            ])
            if withError {
                reply.append(XElement("ping", namespace: NS.ping))
                reply.append(StanzaError(.serviceUnavailable).element)
            }
            let stanza = Stanza(reply)!
            Task { await kernel.route(stanza, from: session) }
        }
    }

    private func waitUntil(_ condition: () -> Bool) async {
        for _ in 0..<1000 where !condition() { try? await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func anAnsweringClientStays() async throws {
        let harness = try await ServiceHarness([module])
        let alice = await harness.login("alice@localhost/a")
        answer(alice, in: harness)
        await waitUntil { pings(alice).count >= 3 }
        #expect(pings(alice).count >= 3)
        #expect(alice.transport.terminated.isEmpty)
        let ping = try #require(pings(alice).first)
        #expect(ping[attribute: "type"] == "get")
        #expect(ping[attribute: "from"] == "localhost")
        #expect(ping[attribute: "to"] == "alice@localhost/a")
        #expect(ping[attribute: "id"]?.isEmpty == false)
        await harness.kernel.unbind(alice.session)
    }

    @Test func anErrorReplyAlsoMeansAlive() async throws {
        let harness = try await ServiceHarness([module])
        let alice = await harness.login("alice@localhost/a")
        answer(alice, in: harness, withError: true)
        await waitUntil { pings(alice).count >= 3 }
        #expect(alice.transport.terminated.isEmpty)
        await harness.kernel.unbind(alice.session)
    }

    @Test func aSilentClientIsDisconnected() async throws {
        let module = ClientPingModule(interval: .milliseconds(40), timeout: .milliseconds(150))
        let harness = try await ServiceHarness([module])
        let alice = await harness.login("alice@localhost/a")
        await waitUntil { !alice.transport.terminated.isEmpty }
        #expect(alice.transport.terminated.map(\.condition) == [.connectionTimeout])
        #expect(pings(alice).count == 1)
        await harness.kernel.unbind(alice.session)
        #expect(module.activeLoops == 0)
    }

    @Test func closingTheSessionStopsItsPings() async throws {
        let harness = try await ServiceHarness([module])
        let alice = await harness.login("alice@localhost/a")
        answer(alice, in: harness)
        await waitUntil { pings(alice).count >= 1 }
        await harness.kernel.unbind(alice.session)
        #expect(module.activeLoops == 0)
        let sent = pings(alice).count
        try await Task.sleep(for: .milliseconds(200))
        #expect(pings(alice).count <= sent + 1, "at most a ping already on its way")
        #expect(alice.transport.terminated.isEmpty)
    }

    @Test func loopsDoNotOutliveTheirSessions() async throws {
        // No ping comes due during the test, so every loop is still waiting when counted.
        let module = ClientPingModule(interval: .seconds(3600))
        let harness = try await ServiceHarness([module])
        for round in 0..<50 {
            let client = await harness.login("alice@localhost/r\(round % 5)")
            if round % 2 == 0 { await harness.kernel.unbind(client.session) }
        }
        // Rebinding a resource replaces its session, whose loop ends with it.
        #expect(module.activeLoops == harness.kernel.sessions.count)
        for session in harness.kernel.sessions.allSessions() { await harness.kernel.unbind(session) }
        #expect(module.activeLoops == 0)
    }
}
