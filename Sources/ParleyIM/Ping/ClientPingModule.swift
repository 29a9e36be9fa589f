import ParleyKernel
import Synchronization
import XMPPAddress
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
    private let schedule: Schedule

    public init(interval: Duration = ClientPingModule.defaultInterval, timeout: Duration = ClientPingModule.defaultTimeout) {
        self.interval = interval
        self.timeout = timeout
        schedule = Schedule(interval: interval)
    }

    public func register(in registrar: ModuleRegistrar) {
        let schedule = self.schedule
        let interval = self.interval
        let timeout = self.timeout
        registrar.onSessionBound { [weak kernel = registrar.kernel] session in
            schedule.add(session, due: .now + interval) { [weak kernel] session in
                guard let kernel else { return }
                await Self.ping(session, kernel: kernel, timeout: timeout, schedule: schedule, interval: interval)
            }
        }
        registrar.onSessionClosed { session in schedule.remove(session) }
    }

    /// Sends one ping; a reply (result or error) schedules the next one, silence closes the session.
    private static func ping(_ session: LocalSession, kernel: Kernel, timeout: Duration, schedule: Schedule, interval: Duration) async {
        // The session may be gone (closed before its entry was removed); then nothing is sent.
        guard kernel.sessions.session(for: session.jid) === session else {
            schedule.remove(session)
            return
        }
        var ping = XElement("iq", namespace: NS.client, [
            "type": "get", "from": session.jid.domainpart, "to": session.jid.description,
        ])
        ping.append(XElement("ping", namespace: NS.ping))
        let reply = await kernel.request(ping, timeout: timeout)
        guard reply != nil else {
            guard schedule.remove(session) else { return }  // closed meanwhile
            kernel.logger.info("closing a session that did not answer a ping", metadata: ["jid": "\(session.jid)"])
            session.transport.terminate(StreamError(.connectionTimeout, text: "no answer to a ping"))
            return
        }
        schedule.reschedule(session, due: .now + interval)
    }

    /// Number of sessions with a ping scheduled or in flight (for tests).
    var activeLoops: Int { schedule.count }

    /// When each bound session is due for its next ping, swept by one timer task for all sessions.
    ///
    /// One sleeping task per session cost about 3 KB per idle session; an entry here costs a
    /// dictionary slot. The sweeper runs only while there are sessions, wakes every `tick`
    /// (an eighth of the interval, between 50 ms and 5 s) and starts a task only for a ping in flight.
    final class Schedule: Sendable {
        private struct Entry {
            let session: LocalSession
            var due: ContinuousClock.Instant
            var inFlight = false
        }
        private struct State {
            var entries: [ObjectIdentifier: Entry] = [:]
            var sweeper: Task<Void, Never>?
        }
        private let state = Mutex(State())
        private let tick: Duration

        init(interval: Duration) {
            tick = min(max(interval / 8, .milliseconds(50)), .seconds(5))
        }

        var count: Int { state.withLock { $0.entries.count } }

        func add(_ session: LocalSession, due: ContinuousClock.Instant,
                 ping: @escaping @Sendable (LocalSession) async -> Void) {
            state.withLock { state in
                state.entries[ObjectIdentifier(session)] = Entry(session: session, due: due)
                if state.sweeper == nil {
                    state.sweeper = Task { [weak self] in await self?.sweep(ping: ping) }
                }
            }
        }

        /// Returns whether the session had an entry.
        @discardableResult
        func remove(_ session: LocalSession) -> Bool {
            state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(session)) != nil }
        }

        func reschedule(_ session: LocalSession, due: ContinuousClock.Instant) {
            state.withLock { state in
                let key = ObjectIdentifier(session)
                guard state.entries[key] != nil else { return }
                state.entries[key]!.due = due
                state.entries[key]!.inFlight = false
            }
        }

        private func sweep(ping: @escaping @Sendable (LocalSession) async -> Void) async {
            while true {
                do { try await Task.sleep(for: tick) } catch { return }
                let now = ContinuousClock.now
                let due = state.withLock { state -> [LocalSession]? in
                    guard !state.entries.isEmpty else {
                        state.sweeper = nil  // the next session bound starts a new sweeper
                        return nil
                    }
                    var due: [LocalSession] = []
                    for (key, entry) in state.entries where !entry.inFlight && entry.due <= now {
                        state.entries[key]!.inFlight = true
                        due.append(entry.session)
                    }
                    return due
                }
                guard let due else { return }
                for session in due { Task { await ping(session) } }
            }
        }
    }
}
