import ParleyKernel
import Synchronization
import XMPPProtocol
import XMPPXML

/// Server-to-client pings (XEP-0199 §4.2): each session is pinged every `interval`, and a session
/// that does not answer within `timeout` is closed with `connection-timeout` (RFC 6120 §4.9.3.4).
///
/// "Idle" is simply "every interval", whatever traffic there was: a ping every five minutes costs
/// little and needs no hook on every stanza. A result or an error reply both mean the client is
/// there (XEP-0199 §4.2: a client without ping support answers service-unavailable).
public struct ClientPingModule: Module {
    public static let defaultInterval: Duration = .seconds(300)
    public static let defaultTimeout: Duration = .seconds(60)
    public let name = "client-ping"
    public let interval: Duration
    public let timeout: Duration
    private let loops = Loops()

    public init(interval: Duration = ClientPingModule.defaultInterval, timeout: Duration = ClientPingModule.defaultTimeout) {
        self.interval = interval
        self.timeout = timeout
    }

    public func register(in registrar: ModuleRegistrar) {
        let loops = self.loops
        let interval = self.interval
        let timeout = self.timeout
        registrar.onSessionBound { [weak kernel = registrar.kernel] session in
            loops.start(for: session) { [weak kernel] in
                while true {
                    do { try await Task.sleep(for: interval) } catch { return }
                    // The session may be gone (closed before this loop was registered); then stop.
                    guard let kernel, kernel.sessions.session(for: session.jid) === session else { return }
                    var ping = XElement("iq", namespace: NS.client, [
                        "type": "get", "from": session.jid.domainpart, "to": session.jid.description,
                    ])
                    ping.append(XElement("ping", namespace: NS.ping))
                    let reply = await kernel.request(ping, timeout: timeout)
                    if Task.isCancelled { return }
                    guard reply != nil else {
                        kernel.logger.info("closing a session that did not answer a ping", metadata: ["jid": "\(session.jid)"])
                        session.transport.terminate(StreamError(.connectionTimeout, text: "no answer to a ping"))
                        return
                    }
                }
            }
        }
        registrar.onSessionClosed { session in loops.stop(for: session) }
    }

    /// Number of sessions with a ping loop (for tests).
    var activeLoops: Int { loops.count }

    /// One ping loop per bound session; an entry is removed when its session closes or its loop ends.
    private final class Loops: Sendable {
        private struct Entry { var token: UInt64; var task: Task<Void, Never> }
        private let entries = Mutex<[ObjectIdentifier: Entry]>([:])
        private let nextToken = Atomic<UInt64>(0)

        func start(for session: LocalSession, _ loop: @escaping @Sendable () async -> Void) {
            let key = ObjectIdentifier(session)
            let token = nextToken.add(1, ordering: .relaxed).newValue
            // The task is created under the lock, so its own removal cannot run before its insertion.
            let previous = entries.withLock { entries -> Entry? in
                let task = Task {
                    await loop()
                    self.finished(key, token)
                }
                return entries.updateValue(Entry(token: token, task: task), forKey: key)
            }
            previous?.task.cancel()
        }

        func stop(for session: LocalSession) {
            entries.withLock { $0.removeValue(forKey: ObjectIdentifier(session)) }?.task.cancel()
        }

        var count: Int { entries.withLock { $0.count } }

        private func finished(_ key: ObjectIdentifier, _ token: UInt64) {
            entries.withLock { entries in
                if entries[key]?.token == token { entries[key] = nil }
            }
        }
    }
}
