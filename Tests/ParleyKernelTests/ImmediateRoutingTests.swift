import Logging
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
import ParleyStorage
@testable import ParleyIM
@testable import ParleyKernel

/// Counts each hook's calls, by name.
private final class HookCalls: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func record(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
    subscript(_ name: String) -> Int { counts.withLock { $0[name] ?? 0 } }
}

/// Hooks of every kind. The inbound one cannot decide a message whose body is "wait" without
/// suspending; its async variant marks the messages it saw.
private struct RecordingModule: Module {
    let name = "recording"
    let calls: HookCalls
    let deliveredHookSuspends: Bool

    func register(in registrar: ModuleRegistrar) {
        let calls = calls
        registrar.onOutbound(synchronous: { _ in
            calls.record("outbound")
            return .pass
        })
        registrar.onInbound(immediate: { inbound in
            calls.record("inbound immediate")
            return inbound.stanza.element.child("body")?.text == "wait" ? .suspend : .pass
        }) { inbound in
            calls.record("inbound async")
            await Task.yield()
            inbound.stanza.element.append(XElement("seen", namespace: "urn:test"))
            return .pass
        }
        if deliveredHookSuspends {
            registrar.onDeliveredMessage { _, _ in
                await Task.yield()
                calls.record("delivered async")
            }
        } else {
            registrar.onDeliveredMessage(synchronous: { _, _ in calls.record("delivered") })
        }
    }
}

private struct Setup {
    let kernel: Kernel
    let calls = HookCalls()
    let alice: LocalSession
    let bob: LocalSession
    let bobTransport = FakeTransport()
    let aliceTransport = FakeTransport()

    init(deliveredHookSuspends: Bool = false) async {
        let calls = calls
        kernel = Kernel(hosts: ["localhost"], accounts: InMemoryAccountStore(),
                        modules: [PingModule(), RecordingModule(calls: calls, deliveredHookSuspends: deliveredHookSuspends)],
                        logger: Logger(label: "test"))
        alice = await kernel.bind(user: try! JID("alice@localhost"), resource: "a", transport: aliceTransport)
        bob = await kernel.bind(user: try! JID("bob@localhost"), resource: "b", transport: bobTransport)
        for session in [alice, bob] { session.update { $0.availablePresence = XElement("presence", namespace: NS.client) } }
    }

    func message(to: String, body: String) -> Stanza {
        Stanza(XElement("message", namespace: NS.client, ["from": "alice@localhost/a", "to": to, "type": "chat"],
                        children: [.element(XElement("body", namespace: NS.client, children: [.text(body)]))]))!
    }
}

@Suite("Routing without suspending when no step needs to")
struct ImmediateRoutingTests {
    @Test(arguments: ["bob@localhost", "bob@localhost/b"])
    func aMessageToAnOnlineContactIsDeliveredBeforeRoutingReturns(to: String) async {
        let setup = await Setup()
        let remainder = setup.kernel.routeImmediately(setup.message(to: to, body: "hi"), from: setup.alice)
        #expect(remainder == nil)
        #expect(setup.bobTransport.delivered.map { $0.child("body")?.text } == ["hi"])
        #expect(setup.calls["outbound"] == 1)
        #expect(setup.calls["inbound immediate"] == 1)
        #expect(setup.calls["inbound async"] == 0)
        #expect(setup.calls["delivered"] == 1)
    }

    @Test func aHookThatMustSuspendGoesOnFromItselfWithoutRepeatingEarlierHooks() async {
        let setup = await Setup()
        let remainder = setup.kernel.routeImmediately(setup.message(to: "bob@localhost", body: "wait"), from: setup.alice)
        #expect(remainder != nil)
        #expect(setup.bobTransport.delivered.isEmpty, "nothing is delivered before the suspending hook has run")
        await remainder?()
        #expect(setup.bobTransport.delivered.count == 1)
        #expect(setup.bobTransport.delivered.first?.child("seen", namespace: "urn:test") != nil, "the async hook saw and changed it")
        #expect(setup.calls["outbound"] == 1)
        #expect(setup.calls["inbound immediate"] == 1)
        #expect(setup.calls["inbound async"] == 1)
        #expect(setup.calls["delivered"] == 1)
    }

    @Test func aDeliveredHookWithoutAnImmediateVariantRunsInTheRemainder() async {
        let setup = await Setup(deliveredHookSuspends: true)
        let remainder = setup.kernel.routeImmediately(setup.message(to: "bob@localhost", body: "hi"), from: setup.alice)
        #expect(setup.bobTransport.delivered.count == 1, "delivery itself did not wait")
        #expect(setup.calls["delivered async"] == 0)
        #expect(remainder != nil)
        await remainder?()
        #expect(setup.calls["delivered async"] == 1)
    }

    @Test func anIQToTheServerIsAnsweredByTheRemainder() async {
        let setup = await Setup()
        let ping = Stanza(XElement("iq", namespace: NS.client, ["from": "alice@localhost/a", "to": "localhost", "type": "get", "id": "p"],
                                   children: [.element(XElement("ping", namespace: NS.ping))]))!
        let remainder = setup.kernel.routeImmediately(ping, from: setup.alice)
        #expect(remainder != nil, "IQ handlers are async")
        await remainder?()
        #expect(setup.aliceTransport.delivered.map { $0[attribute: "type"] } == ["result"])
    }

    @Test func aMessageToAnAccountWithoutSessionsIsHandledByTheRemainder() async {
        let setup = await Setup()
        let remainder = setup.kernel.routeImmediately(setup.message(to: "nobody@localhost", body: "hi"), from: setup.alice)
        #expect(remainder != nil, "whether the account exists is a store read")
        #expect(setup.aliceTransport.delivered.isEmpty)
        await remainder?()
        let reply = setup.aliceTransport.delivered.first
        #expect(reply?[attribute: "type"] == "error")
        #expect(reply?.child("error")?.elements.first?.name == "service-unavailable")
    }
}
