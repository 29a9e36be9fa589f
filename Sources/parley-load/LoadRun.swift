#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import NIOSSL

/// Which SASL mechanism to use.
enum MechanismChoice: String, Sendable, CaseIterable {
    case auto
    case scramSHA1 = "SCRAM-SHA-1"
    case scramSHA256 = "SCRAM-SHA-256"

    /// The strongest offered one for `auto` (SCRAM-SHA-256, then SCRAM-SHA-1), else exactly the one asked for.
    func choose(from offered: Set<String>) -> SCRAMHashKind? {
        switch self {
        case .auto:
            if offered.contains(SCRAMHashKind.sha256.rawValue) { return .sha256 }
            if offered.contains(SCRAMHashKind.sha1.rawValue) { return .sha1 }
            return nil
        case .scramSHA1: return offered.contains(rawValue) ? .sha1 : nil
        case .scramSHA256: return offered.contains(rawValue) ? .sha256 : nil
        }
    }
}

/// What every scenario needs to reach and log in to the server.
struct LoadOptions: Sendable {
    var host: String
    var port: Int
    var domain: String
    var userPrefix: String
    var password: String
    var resource: String
    var tls: Bool
    var mechanism: MechanismChoice
    var sourceAddresses: [SocketAddress]
    var perAddress: Int
    var scramCache: String?
    var loginTimeout: Double
    var concurrency: Int
    /// Users come in groups of mutual contacts of this size (contacts + 1): user n's contacts are
    /// the other members of group (n - 1) / groupSize. Must match how the accounts were created.
    var groupSize: Int

    func username(_ number: Int) -> String { "\(userPrefix)\(number)" }
}

struct LoginResult: Sendable {
    var attempted = 0
    var ready = 0
    var failed = 0
    var seconds = 0.0
    var latency = LatencyHistogram()
    var failures: [String: Int] = [:]
    var mechanisms: [String: Int] = [:]
    var rosterItems = 0
}

struct MessageResult: Sendable {
    var offered = 0
    var sent = 0
    var notWritable = 0
    var delivered = 0
    var bounced = 0
    var stale = 0
    var latency = LatencyHistogram()
    var probeSent = 0
    var probeDelivered = 0
    var probeLatency = LatencyHistogram()
    var maxBurst = 0
}

struct PresenceResult: Sendable {
    var sent = 0
    var received = 0
    var latency = LatencyHistogram()
}

/// The load generator's engine: all sessions, on one event loop thread.
///
/// Safety (`@unchecked Sendable`): every mutable property is touched only on `loop`; the `async`
/// entry points hop onto it with `submit`/`flatSubmit` and return value types.
final class LoadRun: @unchecked Sendable {
    let loop: any EventLoop
    let options: LoadOptions
    let tlsContext: NIOSSLContext?
    let keyCache: SCRAMKeyCache
    private let target: SocketAddress
    private let domainBytes: [UInt8]

    var sendInitialPresence = true
    var lastInbound: UInt64 = 0
    private(set) var openChannels = 0
    private(set) var droppedAfterReady = 0
    private var closing = false
    private var connections = 0

    // Login state.
    private var login = LoginResult()
    private var loginQueue: [Session] = []
    private var loginNext = 0
    private var loginScan = 0
    private var inflight = 0
    private var loginStart: UInt64 = 0
    private var loginRate = 0.0
    private var loginPromise: EventLoopPromise<LoginResult>?
    private var loginTask: RepeatedTask?
    private var lastTimeoutCheck: UInt64 = 0

    // Message state.
    private var messages = MessageResult()
    private var senders: [Session] = []
    private var senderCursor = 0
    private var messageRate = 0.0
    private var messageStart: UInt64 = 0
    private var messageDuration: UInt64 = 0
    private var phaseOffered = 0
    private var measureFrom: UInt64 = .max
    private var messageSeq = 0
    private var dirty: [Session] = []
    private var filler: [UInt8] = []
    private var probe: (sender: Session, receiver: Session)?
    private var probeInterval: UInt64 = 10_000_000
    private var nextProbe: UInt64 = 0
    private var messagePromise: EventLoopPromise<Void>?
    private var messageTask: RepeatedTask?

    // Presence state.
    private var presence = PresenceResult()
    private var presenceCounting = false
    private var presenceFrom: UInt64 = .max
    private var presenceSessions: [Session] = []
    private var presenceTotal = 0
    private var presenceRate = 0.0
    private var presenceStart: UInt64 = 0
    private var presencePromise: EventLoopPromise<Void>?
    private var presenceTask: RepeatedTask?

    init(loop: any EventLoop, options: LoadOptions) throws {
        self.loop = loop
        self.options = options
        self.target = try SocketAddress(ipAddress: options.host, port: options.port)
        self.domainBytes = Array(options.domain.utf8)
        self.keyCache = SCRAMKeyCache(path: options.scramCache)
        if options.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            // Loopback benchmark against self-signed certificates: encryption cost, not trust.
            configuration.certificateVerification = .none
            self.tlsContext = try NIOSSLContext(configuration: configuration)
        } else {
            self.tlsContext = nil
        }
    }

    // MARK: sessions

    /// Sessions for users `first ..< first + count`, with message targets among their group.
    func makeSessions(first: Int, count: Int, role: Session.Role = .normal) -> [Session] {
        let last = first + count - 1
        return (first...last).map { number in
            let session = Session(number: number, username: options.username(number), domain: options.domain, role: role, run: self)
            let group = (number - 1) / options.groupSize
            let members = (group * options.groupSize + 1)...(group * options.groupSize + options.groupSize)
            var targets = members.filter { $0 != number && $0 >= first && $0 <= last }
            if targets.isEmpty { targets = [number == last ? first : number + 1] }
            // Start at the next member so senders spread over their contacts.
            if let start = targets.firstIndex(where: { $0 > number }) { targets = Array(targets[start...] + targets[..<start]) }
            session.targets = targets.map { Array(options.username($0).utf8) + [0x40] + domainBytes }
            return session
        }
    }

    private func connect(_ session: Session) {
        session.phase = .connecting
        session.connectStarted = monotonicNanos()
        inflight += 1
        let addresses = options.sourceAddresses
        let source = addresses[(connections / max(1, options.perAddress)) % addresses.count]
        connections += 1
        // IP_BIND_ADDRESS_NO_PORT (Linux): pick the source port at connect time, per destination,
        // so tens of thousands of connections fit on a few source addresses.
        let bindNoPort = ChannelOptions.Types.SocketOption(level: .ip, name: NIOBSDSocket.Option(rawValue: 24))
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(bindNoPort, value: 1)
            .connectTimeout(.seconds(Int64(max(1, options.loginTimeout))))
            .bind(to: source)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SessionHandler(session: session))
                }
            }
            .connect(to: target)
            .whenFailure { error in
                session.fail("connect: \(error)")
            }
    }

    // MARK: callbacks from sessions

    func channelOpened() {
        openChannels += 1
    }

    func authenticated(_ session: Session) {
        if let hash = session.exchange?.hash { login.mechanisms[hash.rawValue, default: 0] += 1 }
    }

    func rosterArrived(_ session: Session, _ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        var from = range.lowerBound
        while let at = ByteSearch.find(buf, from..<range.upperBound, "<item") {
            login.rosterItems += 1
            from = at + 5
        }
    }

    func sessionReady(_ session: Session, now: UInt64) {
        inflight -= 1
        login.ready += 1
        login.latency.record(now &- session.connectStarted)
        checkLoginDone()
    }

    private static func isLoggingIn(_ phase: Session.Phase) -> Bool {
        switch phase {
        case .connecting, .awaitingFeatures, .awaitingProceed, .awaitingChallenge, .awaitingSuccess,
             .awaitingBind, .awaitingSession, .awaitingRoster: true
        default: false
        }
    }

    func sessionFailed(_ session: Session, reason: String, previousPhase: Session.Phase) {
        if Self.isLoggingIn(previousPhase) {
            inflight -= 1
            login.failed += 1
            login.failures[Self.shortReason(reason), default: 0] += 1
            checkLoginDone()
        } else if previousPhase == .ready && !closing {
            droppedAfterReady += 1
            login.failures["after login: " + Self.shortReason(reason), default: 0] += 1
        }
    }

    func sessionClosed(_ session: Session, previousPhase: Session.Phase, wasActive: Bool) {
        if wasActive { openChannels -= 1 }
        if previousPhase != .failed && previousPhase != .closed {
            sessionFailed(session, reason: "connection closed by server", previousPhase: previousPhase)
        }
    }

    private static func shortReason(_ reason: String) -> String {
        String(reason.prefix(160))
    }

    func messageArrived(_ session: Session, _ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, now: UInt64) {
        if let type = ByteSearch.attribute(buf, range, " type="), ByteSearch.equals(buf, type, "error") {
            messages.bounced += 1
            return
        }
        guard let body = ByteSearch.childText(buf, range, "<body"), let stamp = ByteSearch.decimal(buf, body) else { return }
        guard stamp >= measureFrom else {
            messages.stale += 1
            return
        }
        if session.role == .probeReceiver {
            messages.probeDelivered += 1
            messages.probeLatency.record(now &- stamp)
        } else {
            messages.delivered += 1
            messages.latency.record(now &- stamp)
        }
    }

    func presenceArrived(_ session: Session, _ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, now: UInt64) {
        guard presenceCounting else { return }
        guard let from = ByteSearch.attribute(buf, range, " from=") else { return }
        // The session's own presence echoed back is not a contact's update.
        let own = session.bareJID
        if from.count >= own.count && own.withUnsafeBytes({ memcmp(buf.baseAddress! + from.lowerBound, $0.baseAddress!, own.count) }) == 0
            && (from.count == own.count || buf[from.lowerBound + own.count] == 0x2F) {
            return
        }
        guard let status = ByteSearch.childText(buf, range, "<status"), let stamp = ByteSearch.decimal(buf, status),
              stamp >= presenceFrom else { return }
        presence.received += 1
        presence.latency.record(now &- stamp)
    }

    // MARK: login

    /// Logs the sessions in: at most `options.concurrency` at a time and, when `rate` > 0, starting
    /// no more than `rate` connections per second. Completes when every session is ready or failed.
    func login(_ sessions: [Session], rate: Double) async throws -> LoginResult {
        try await loop.flatSubmit { () -> EventLoopFuture<LoginResult> in
            self.login = LoginResult()
            self.login.attempted = sessions.count
            self.loginQueue = sessions
            self.loginNext = 0
            self.loginScan = 0
            self.inflight = 0
            self.loginRate = rate
            self.loginStart = monotonicNanos()
            let promise = self.loop.makePromise(of: LoginResult.self)
            self.loginPromise = promise
            if sessions.isEmpty {
                promise.succeed(self.login)
            } else {
                self.loginTask = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { _ in
                    self.loginTick()
                }
            }
            return promise.futureResult
        }.get()
    }

    private func loginTick() {
        let now = monotonicNanos()
        var allowed = options.concurrency - inflight
        if loginRate > 0 {
            let due = Int(Double(now &- loginStart) / 1e9 * loginRate) + 1 - loginNext
            allowed = min(allowed, due)
        }
        while allowed > 0 && loginNext < loginQueue.count {
            connect(loginQueue[loginNext])
            loginNext += 1
            allowed -= 1
        }
        if now &- lastTimeoutCheck > 100_000_000 {
            lastTimeoutCheck = now
            let limit = UInt64(options.loginTimeout * 1e9)
            while loginScan < loginNext && !Self.isLoggingIn(loginQueue[loginScan].phase) { loginScan += 1 }
            var i = loginScan
            while i < loginNext {
                let session = loginQueue[i]
                if Self.isLoggingIn(session.phase) && now > session.connectStarted && now - session.connectStarted > limit {
                    session.fail("login timed out in \(session.phase)")
                }
                i += 1
            }
        }
        checkLoginDone()
    }

    private func checkLoginDone() {
        guard let promise = loginPromise, loginNext == loginQueue.count,
              login.ready + login.failed >= loginQueue.count else { return }
        loginPromise = nil
        loginTask?.cancel()
        loginTask = nil
        login.seconds = Double(monotonicNanos() &- loginStart) / 1e9
        loginQueue = []
        promise.succeed(login)
    }

    // MARK: messages

    /// Sends one-to-one chat messages from `senders` (round robin, each to its group's members in
    /// turn) at `rate` per second for `duration` seconds, plus a probe message every
    /// `probeInterval` seconds. Returns when the last message is sent.
    func sendMessages(senders: [Session], rate: Double, duration: Double, bodySize: Int,
                      probe: (Session, Session)?, probeInterval: Double) async throws {
        try await loop.flatSubmit { () -> EventLoopFuture<Void> in
            self.messages = MessageResult()
            self.senders = senders
            self.senderCursor = 0
            self.messageRate = rate
            self.messageDuration = UInt64(duration * 1e9)
            self.phaseOffered = 0
            self.filler = [0x20] + Array(String(repeating: "lorem ipsum dolor sit amet ", count: bodySize / 27 + 1).utf8.prefix(max(0, bodySize - 20)))
            self.probe = probe.map { (sender: $0.0, receiver: $0.1) }
            self.probeInterval = UInt64(probeInterval * 1e9)
            self.messageStart = monotonicNanos()
            self.measureFrom = self.messageStart
            self.nextProbe = self.messageStart
            let promise = self.loop.makePromise(of: Void.self)
            self.messagePromise = promise
            self.messageTask = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { _ in
                self.messageTick()
            }
            return promise.futureResult
        }.get()
    }

    private func messageTick() {
        let now = monotonicNanos()
        let elapsed = min(now &- messageStart, messageDuration)
        var due = Int(Double(elapsed) * messageRate / 1e9) - phaseOffered
        if due > messages.maxBurst { messages.maxBurst = due }
        let count = senders.count
        while due > 0 && count > 0 {
            let sender = senders[senderCursor]
            senderCursor += 1
            if senderCursor == count { senderCursor = 0 }
            phaseOffered += 1
            messages.offered += 1
            due -= 1
            guard sender.phase == .ready, sender.isWritable else {
                messages.notWritable += 1
                continue
            }
            let to = sender.targets[sender.nextTarget]
            sender.nextTarget += 1
            if sender.nextTarget == sender.targets.count { sender.nextTarget = 0 }
            appendMessage(from: sender, to: to, stamp: now)
            messages.sent += 1
        }
        if let probe, now >= nextProbe, probe.sender.phase == .ready {
            nextProbe = now + probeInterval
            appendMessage(from: probe.sender, to: probe.receiver.bareJID, stamp: now)
            messages.probeSent += 1
        }
        for session in dirty {
            if var outbox = session.outbox {
                session.outbox = nil
                session.write(outbox)
                outbox.clear()
            }
            session.flush()
        }
        dirty.removeAll(keepingCapacity: true)
        if now &- messageStart >= messageDuration, let promise = messagePromise {
            messagePromise = nil
            messageTask?.cancel()
            messageTask = nil
            promise.succeed(())
        }
    }

    private func appendMessage(from sender: Session, to: [UInt8], stamp: UInt64) {
        guard let context = sender.context else { return }
        if sender.outbox == nil {
            sender.outbox = context.channel.allocator.buffer(capacity: 4096)
        }
        messageSeq += 1
        sender.outbox!.writeStaticString("<message type='chat' to='")
        sender.outbox!.writeBytes(to)
        sender.outbox!.writeStaticString("' id='m")
        sender.outbox!.writeDecimal(UInt64(messageSeq))
        sender.outbox!.writeStaticString("'><body>")
        sender.outbox!.writeDecimal(stamp)
        sender.outbox!.writeBytes(filler)
        sender.outbox!.writeStaticString("</body></message>")
        if !sender.needsFlush {
            sender.needsFlush = true
            dirty.append(sender)
        }
    }

    /// Counters so far (call after the drain).
    func messageResult() async throws -> MessageResult {
        try await loop.submit { self.messages }.get()
    }

    /// Delivered (bulk + probe) and sent so far, to wait for the drain.
    func messageProgress() async throws -> (accounted: Int, expected: Int) {
        try await loop.submit {
            (self.messages.delivered + self.messages.bounced + self.messages.probeDelivered,
             self.messages.sent + self.messages.probeSent)
        }.get()
    }

    // MARK: presence

    /// Each session sends `updates` presence changes (away / available, with a timestamp in the
    /// status), round robin at `rate` per second overall. Returns when all are sent.
    func sendPresence(sessions: [Session], updates: Int, rate: Double) async throws {
        try await loop.flatSubmit { () -> EventLoopFuture<Void> in
            self.presence = PresenceResult()
            self.presenceSessions = sessions
            self.presenceTotal = sessions.count * updates
            self.presenceRate = rate
            self.presenceStart = monotonicNanos()
            self.presenceFrom = self.presenceStart
            self.presenceCounting = true
            let promise = self.loop.makePromise(of: Void.self)
            self.presencePromise = promise
            self.presenceTask = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { _ in
                self.presenceTick()
            }
            return promise.futureResult
        }.get()
    }

    private func presenceTick() {
        let now = monotonicNanos()
        var due = presenceRate > 0 ? Int(Double(now &- presenceStart) * presenceRate / 1e9) - presence.sent : presenceTotal
        due = min(due, presenceTotal - presence.sent)
        let count = presenceSessions.count
        while due > 0 && count > 0 {
            let index = presence.sent % count
            let round = presence.sent / count
            let session = presenceSessions[index]
            presence.sent += 1
            due -= 1
            guard let context = session.context, session.phase == .ready else { continue }
            var buffer = context.channel.allocator.buffer(capacity: 128)
            if round % 2 == 0 {
                buffer.writeStaticString("<presence><show>away</show><status>")
            } else {
                buffer.writeStaticString("<presence><status>")
            }
            buffer.writeDecimal(now)
            buffer.writeStaticString(" update</status></presence>")
            session.write(buffer)
            if !session.needsFlush {
                session.needsFlush = true
                dirty.append(session)
            }
        }
        for session in dirty { session.flush() }
        dirty.removeAll(keepingCapacity: true)
        if presence.sent >= presenceTotal, let promise = presencePromise {
            presencePromise = nil
            presenceTask?.cancel()
            presenceTask = nil
            promise.succeed(())
        }
    }

    func presenceResult() async throws -> PresenceResult {
        try await loop.submit { self.presence }.get()
    }

    // MARK: the whole run

    /// Nanoseconds since anything last arrived from the server.
    func quietFor() async throws -> UInt64 {
        try await loop.submit { monotonicNanos() &- self.lastInbound }.get()
    }

    func status() async throws -> (open: Int, dropped: Int, cacheHits: Int, cacheMisses: Int) {
        try await loop.submit { (self.openChannels, self.droppedAfterReady, self.keyCache.hits, self.keyCache.misses) }.get()
    }

    func saveKeyCache() async throws {
        try await loop.submit { self.keyCache.save() }.get()
    }

    /// Closes every connection (stream end, then TCP close) and waits, at most `timeout` seconds, for them to go.
    func closeAll(_ sessions: [Session], timeout: Double) async throws {
        try await loop.submit {
            self.closing = true
            for session in sessions {
                if let context = session.context {
                    context.writeAndFlush(NIOAny(context.channel.allocator.buffer(staticString: "</stream:stream>")), promise: nil)
                    context.close(promise: nil)
                }
            }
        }.get()
        let deadline = monotonicNanos() + UInt64(timeout * 1e9)
        while try await loop.submit({ self.openChannels }).get() > 0 && monotonicNanos() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }
}

extension ByteBuffer {
    /// Writes `value` in decimal without allocating.
    @inline(__always)
    mutating func writeDecimal(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var v = value
            var i = 20
            repeat {
                i -= 1
                digits[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
            } while v > 0
            _ = writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[i...]))
        }
    }
}
