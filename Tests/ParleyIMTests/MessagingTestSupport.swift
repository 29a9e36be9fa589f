import Logging
import ParleyKernel
import ParleyStorage
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// A session transport that records what the kernel sends it.
final class MessagingTransport: SessionHandle {
    private let state = Mutex<(delivered: [XElement], terminated: [StreamError])>(([], []))

    func deliver(_ element: XElement) { state.withLock { $0.delivered.append(element) } }
    func terminate(_ error: StreamError) { state.withLock { $0.terminated.append(error) } }

    var delivered: [XElement] { state.withLock { $0.delivered } }
    var terminated: [StreamError] { state.withLock { $0.terminated } }
    func clear() { state.withLock { $0.delivered.removeAll() } }
}

/// A bound session and its transport.
struct MessagingClient {
    let session: LocalSession
    let transport: MessagingTransport
    var jid: JID { session.jid }
    var delivered: [XElement] { transport.delivered }
    /// What the client got, messages only.
    var messages: [XElement] { delivered.filter { $0.name == "message" } }
    var presences: [XElement] { delivered.filter { $0.name == "presence" } }
    func clear() { transport.clear() }
}

/// A kernel with the given modules on host "localhost", and accounts in an in-memory store.
struct MessagingHarness {
    static let host = "localhost"
    let kernel: Kernel

    init(_ modules: [any Module], accounts usernames: [String] = ["alice", "bob", "carol"]) async throws {
        let accounts = InMemoryAccountStore()
        for username in usernames {
            try await accounts.create(AccountRecord(username: username, host: Self.host, credentials: [], createdAt: 0))
        }
        kernel = Kernel(hosts: [Self.host], accounts: accounts, modules: modules, logger: Logger(label: "test"))
    }

    /// Binds a session; when `available`, it has sent available presence with `priority`
    /// (the presence module's part, simulated), without announcing it to the modules.
    func login(_ jid: String, available: Bool = true, priority: Int = 0) async -> MessagingClient {
        let full = try! JID(jid)
        let transport = MessagingTransport()
        let session = await kernel.bind(user: full.bare, resource: full.resourcepart, transport: transport)
        if available { Self.setAvailable(session, priority: priority) }
        return MessagingClient(session: session, transport: transport)
    }

    /// What the presence module does for initial presence: the state, then the announcement.
    func becomeAvailable(_ client: MessagingClient, priority: Int = 0) async {
        Self.setAvailable(client.session, priority: priority)
        await kernel.sessionBecameAvailable(client.session)
    }

    static func setAvailable(_ session: LocalSession, priority: Int) {
        var presence = XElement("presence", namespace: NS.client)
        if priority != 0 { presence.append(XElement("priority", namespace: NS.client, children: [.text(String(priority))])) }
        session.update {
            $0.availablePresence = presence
            $0.priority = priority
            $0.sentInitialPresence = true
        }
    }

    /// Routes a stanza from the client, its `from` stamped as the kernel's caller does.
    func send(_ client: MessagingClient, _ element: XElement) async {
        var element = element
        element[attribute: "from"] = client.jid.description
        await kernel.route(Stanza(element)!, from: client.session)
    }

    /// Sends a message from the client.
    func sendMessage(_ client: MessagingClient, to: String, type: String? = "chat", body: String? = "hi",
                     id: String? = nil, extra: [XElement] = []) async {
        await send(client, Self.message(to: to, type: type, body: body, id: id, extra: extra))
    }

    static func message(from: String? = nil, to: String, type: String? = "chat", body: String? = "hi",
                        id: String? = nil, extra: [XElement] = []) -> XElement {
        var message = XElement("message", namespace: NS.client, ["to": to])
        if let from { message[attribute: "from"] = from }
        if let type { message[attribute: "type"] = type }
        if let id { message[attribute: "id"] = id }
        if let body { message.append(XElement("body", namespace: NS.client, children: [.text(body)])) }
        for element in extra { message.append(element) }
        return message
    }

    /// Sends an IQ from the client (no `to` when nil) and returns the reply with its id.
    @discardableResult
    func iq(_ client: MessagingClient, _ type: String, to: String? = nil, _ payload: XElement,
            sourceLocation: SourceLocation = #_sourceLocation) async -> XElement? {
        let id = "iq-" + RandomID.make(length: 8)
        var element = XElement("iq", namespace: NS.client, ["type": type, "id": id])
        if let to { element[attribute: "to"] = to }
        element.append(payload)
        await send(client, element)
        let reply = client.delivered.last { $0.name == "iq" && $0[attribute: "id"] == id }
        if reply == nil { Issue.record("no reply to \(type) \(payload.name)", sourceLocation: sourceLocation) }
        return reply
    }

    /// The defined condition of a stanza error, nil if the element is not an error.
    static func errorCondition(_ element: XElement?) -> String? {
        guard let element, element[attribute: "type"] == "error" else { return nil }
        return element.child("error")?.elements.first { $0.namespace == NS.stanzaErrors && $0.name != "text" }?.name
    }

    static func bodies(_ messages: [XElement]) -> [String] {
        messages.compactMap { $0.child("body")?.text }
    }
}
