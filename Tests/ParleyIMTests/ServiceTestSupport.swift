import Logging
import ParleyKernel
import ParleyStorage
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// A session transport that records what the kernel sends it and, when given a responder,
/// answers (for server-initiated IQs such as pings).
final class ServiceTransport: SessionHandle {
    private let state = Mutex<(delivered: [XElement], terminated: [StreamError])>(([], []))
    private let responder = Mutex<(@Sendable (XElement) -> Void)?>(nil)

    func deliver(_ element: XElement) {
        state.withLock { $0.delivered.append(element) }
        responder.withLock { $0 }?(element)
    }

    func terminate(_ error: StreamError) { state.withLock { $0.terminated.append(error) } }

    var delivered: [XElement] { state.withLock { $0.delivered } }
    var terminated: [StreamError] { state.withLock { $0.terminated } }

    func respond(with body: @escaping @Sendable (XElement) -> Void) { responder.withLock { $0 = body } }
}

/// A bound session and its transport.
struct ServiceClient {
    let session: LocalSession
    let transport: ServiceTransport
    var jid: JID { session.jid }
    var delivered: [XElement] { transport.delivered }
}

/// A kernel with the given modules, a host "localhost", and accounts in an in-memory store.
struct ServiceHarness {
    static let host = "localhost"
    let kernel: Kernel
    let accounts: InMemoryAccountStore

    init(_ modules: [any Module], accounts usernames: [String] = ["alice", "bob"]) async throws {
        let accounts = InMemoryAccountStore()
        for username in usernames {
            try await accounts.create(AccountRecord(username: username, host: Self.host, credentials: [], createdAt: 0))
        }
        self.accounts = accounts
        self.kernel = Kernel(hosts: [Self.host], accounts: accounts, modules: modules, logger: Logger(label: "test"))
    }

    func login(_ jid: String, available: Bool = true) async -> ServiceClient {
        let full = try! JID(jid)
        let transport = ServiceTransport()
        let session = await kernel.bind(user: full.bare, resource: full.resourcepart, transport: transport)
        if available { session.update { $0.availablePresence = XElement("presence", namespace: NS.client) } }
        return ServiceClient(session: session, transport: transport)
    }

    /// Sends an IQ from the client (no `to` when `to` is nil) and returns the reply it got.
    @discardableResult
    func iq(_ client: ServiceClient, _ type: String, to: String?, _ payload: XElement,
            sourceLocation: SourceLocation = #_sourceLocation) async -> XElement? {
        let id = "q\(client.delivered.count)-\(Int.random(in: 0..<1_000_000))"
        var element = XElement("iq", namespace: NS.client, ["type": type, "id": id, "from": client.jid.description])
        if let to { element[attribute: "to"] = to }
        element.append(payload)
        await kernel.route(Stanza(element)!, from: client.session)
        let reply = client.delivered.last { $0[attribute: "id"] == id }
        if reply == nil { Issue.record("no reply to \(type) \(payload.name)", sourceLocation: sourceLocation) }
        return reply
    }
}

/// The defined condition of a stanza error reply, nil if it is not an error.
func stanzaErrorCondition(_ element: XElement?) -> String? {
    guard let element, element[attribute: "type"] == "error" else { return nil }
    return element.child("error")?.elements.first { $0.namespace == NS.stanzaErrors && $0.name != "text" }?.name
}

func stanzaErrorType(_ element: XElement?) -> String? {
    element?.child("error")?[attribute: "type"]
}

/// `<name xmlns=namespace>text</name>`
func textElement(_ name: String, namespace: String, _ text: String) -> XElement {
    var element = XElement(name, namespace: namespace)
    element.append(text: text)
    return element
}
