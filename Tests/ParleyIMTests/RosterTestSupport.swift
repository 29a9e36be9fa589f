import Logging
import ParleyKernel
import ParleyStorage
import Synchronization
import Testing
import XMPPAddress
import XMPPProtocol
import XMPPXML
@testable import ParleyIM

/// A session transport that records what the kernel delivers to it.
final class RosterTestTransport: SessionHandle {
    private let state = Mutex<(delivered: [XElement], terminated: [StreamError])>(([], []))

    func deliver(_ element: XElement) { state.withLock { $0.delivered.append(element) } }
    func terminate(_ error: StreamError) { state.withLock { $0.terminated.append(error) } }

    var delivered: [XElement] { state.withLock { $0.delivered } }
    /// What was delivered since the last call.
    func take() -> [XElement] { state.withLock { state in defer { state.delivered = [] }; return state.delivered } }
}

/// Counts `sessionBecameAvailable` announcements, as the offline-message module would see them.
final class RosterAvailabilityCounter: Module {
    let name = "availability-counter"
    private let count = Mutex<[JID: Int]>([:])

    func register(in registrar: ModuleRegistrar) {
        registrar.onSessionAvailable { [self] session in count.withLock { $0[session.jid, default: 0] += 1 } }
    }

    func announcements(_ jid: JID) -> Int { count.withLock { $0[jid] ?? 0 } }
}

/// A kernel with the roster module (and ping), accounts on `localhost`, and helpers to drive clients.
struct RosterHarness {
    let kernel: Kernel
    let store: any RosterStore
    let accounts: InMemoryAccountStore
    let module: RosterPresenceModule
    let availability = RosterAvailabilityCounter()

    init(users: [String] = ["alice", "bob", "carol"], store: any RosterStore = InMemoryRosterStore(),
         options: RosterPresenceModule.Options = .init()) async throws {
        let accounts = InMemoryAccountStore()
        for user in users {
            try await accounts.create(AccountRecord(username: user, host: "localhost", credentials: [], createdAt: 0))
        }
        let module = RosterPresenceModule(store: store, options: options)
        self.accounts = accounts
        self.store = store
        self.module = module
        self.kernel = Kernel(hosts: ["localhost"], accounts: accounts, modules: [PingModule(), module, availability],
                             logger: Logger(label: "roster-test"))
    }

    /// A bound session that has neither asked for the roster nor sent presence.
    func bind(_ jid: String) async -> RosterClient {
        let full = try! JID(jid)
        let transport = RosterTestTransport()
        let session = await kernel.bind(user: full.bare, resource: full.resourcepart, transport: transport)
        return RosterClient(kernel: kernel, session: session, transport: transport)
    }

    /// A session that fetched its roster and sent initial presence; what that brought is discarded.
    func online(_ jid: String, presence: String = "<presence/>") async -> RosterClient {
        let client = await bind(jid)
        await client.send("<iq type='get' id='roster-1'><query xmlns='jabber:iq:roster'/></iq>")
        await client.send(presence)
        _ = client.take()
        return client
    }

    /// Makes two online or offline users mutual contacts through the store, bypassing the protocol.
    func befriend(_ a: String, _ b: String) async throws {
        try await store.makeMutualContacts(RosterTest.jid(a), RosterTest.jid(b))
    }

    func roster(_ user: String) async throws -> Roster { try await store.roster(of: RosterTest.jid(user)) }
    func item(_ user: String, _ contact: String) async throws -> RosterItem? {
        try await store.entry(of: RosterTest.jid(user), contact: RosterTest.jid(contact)).item
    }
    func entry(_ user: String, _ contact: String) async throws -> RosterEntry {
        try await store.entry(of: RosterTest.jid(user), contact: RosterTest.jid(contact))
    }

    /// A stanza from elsewhere (another server, or the server itself), routed as s2s input would be.
    func dispatch(_ xml: String) async {
        await kernel.dispatch(Stanza(RosterTest.element(xml))!)
    }
}

/// A bound client session.
struct RosterClient {
    let kernel: Kernel
    let session: LocalSession
    let transport: RosterTestTransport

    var jid: JID { session.jid }

    /// Sends a stanza as the client would: `from` is stamped with the full JID, then it is routed.
    func send(_ xml: String) async {
        var element = RosterTest.element(xml)
        element[attribute: "from"] = session.jid.description
        await kernel.route(Stanza(element)!, from: session)
    }

    func take() -> [XElement] { transport.take() }
    var delivered: [XElement] { transport.delivered }

    func unbind() async { await kernel.unbind(session) }
}

enum RosterTest {
    static func jid(_ string: String) -> JID { try! JID(string) }

    /// Parses one stanza written in the client namespace.
    static func element(_ xml: String) -> XElement {
        let parser = XMLStreamParser()
        let events = try! parser.feed("<stream xmlns='jabber:client'>" + xml + "</stream>")
        for event in events { if case .element(let element) = event { return element } }
        fatalError("no element in \(xml)")
    }

    static func errorCondition(_ element: XElement?) -> String? {
        element?.child("error")?.elements.first { $0.namespace == NS.stanzaErrors }?.name
    }

    /// Presence stanzas among `elements`, as (type or "available", from, to).
    static func presences(_ elements: [XElement]) -> [RosterPresenceSummary] {
        elements.filter { $0.name == "presence" }.map {
            RosterPresenceSummary(type: $0[attribute: "type"] ?? "available", from: $0[attribute: "from"] ?? "", to: $0[attribute: "to"] ?? "")
        }
    }

    /// Roster pushes among `elements`: the one item of each, with the push's version.
    static func pushes(_ elements: [XElement]) -> [RosterPushSummary] {
        elements.compactMap { element in
            guard element.name == "iq", element[attribute: "type"] == "set",
                  let query = element.child("query", namespace: RosterNamespaces.roster),
                  let item = query.child("item", namespace: RosterNamespaces.roster) else { return nil }
            return RosterPushSummary(
                jid: item[attribute: "jid"] ?? "", subscription: item[attribute: "subscription"] ?? "",
                ask: item[attribute: "ask"], approved: item[attribute: "approved"], name: item[attribute: "name"],
                groups: item.elements.filter { $0.name == "group" }.map(\.text), version: query[attribute: "ver"])
        }
    }

    static func iqResults(_ elements: [XElement]) -> [XElement] {
        elements.filter { $0.name == "iq" && ($0[attribute: "type"] == "result" || $0[attribute: "type"] == "error") }
    }
}

struct RosterPresenceSummary: Hashable, CustomStringConvertible {
    var type: String
    var from: String
    var to: String
    var description: String { "\(type) \(from) → \(to)" }
}

struct RosterPushSummary: Hashable {
    var jid: String
    var subscription: String
    var ask: String? = nil
    var approved: String? = nil
    var name: String? = nil
    var groups: [String] = []
    var version: String? = nil
}
