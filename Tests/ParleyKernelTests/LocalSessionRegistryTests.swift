import Synchronization
import Testing
import XMPPAddress
@testable import ParleyKernel

@Suite struct LocalSessionRegistryTests {
    let alice = try! JID("alice@localhost")

    @Test func resourcesAreFoundReplacedAndRemoved() throws {
        let registry = LocalSessionRegistry()
        let phone = registry.bind(user: alice, resource: "phone", transport: FakeTransport())
        let laptop = registry.bind(user: alice, resource: "laptop", transport: FakeTransport())
        #expect(phone.replaced == nil && laptop.replaced == nil)
        #expect(registry.count == 2)
        #expect(registry.sessions(for: try JID("alice@localhost/any")).map(\.jid.resourcepart) == ["phone", "laptop"], "in binding order")
        #expect(registry.session(for: try JID("alice@localhost/laptop")) === laptop.session)
        #expect(registry.session(for: try JID("alice@localhost/tablet")) == nil)
        #expect(registry.session(for: alice) == nil, "a bare JID names no session")

        // RFC 6120 §7.7.2.2: binding a resource in use replaces its session.
        let again = registry.bind(user: alice, resource: "phone", transport: FakeTransport())
        #expect(again.replaced === phone.session)
        #expect(registry.count == 2)
        #expect(registry.unbind(phone.session) == false, "the replaced session is no longer bound")
        #expect(registry.session(for: try JID("alice@localhost/phone")) === again.session)

        #expect(registry.unbind(again.session))
        #expect(registry.unbind(laptop.session))
        #expect(registry.sessions(for: alice).isEmpty)
        #expect(registry.count == 0)
        #expect(registry.allSessions().isEmpty)
    }

    @Test func generatedResourcesNeverCollide() {
        let names = Mutex(["taken", "taken", "fresh"])
        let registry = LocalSessionRegistry(makeResource: { names.withLock { $0.removeFirst() } })
        let first = registry.bind(user: alice, resource: nil, transport: FakeTransport())
        let second = registry.bind(user: alice, resource: nil, transport: FakeTransport())
        #expect(first.session.jid.resourcepart == "taken")
        #expect(second.session.jid.resourcepart == "fresh", "a generated resource already in use is drawn again")
        #expect(second.replaced == nil)
        #expect(registry.allSessions().count == 2)
    }
}
