import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// `parley-load`: an XMPP client load generator for benchmarking servers (Parley, ejabberd,
/// Prosody) on loopback. Every scenario runs many c2s sessions on one event loop thread and prints
/// one JSON line with its figures on standard output, and a human summary on standard error.
@main
struct ParleyLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-load",
        abstract: "XMPP client load generator (c2s sessions multiplexed on one thread).",
        discussion: """
            Accounts are '<prefix><n>@<domain>' with one password, created beforehand (see bench/README.md). \
            Users come in groups of --group-size mutual contacts: user n's contacts are the other members of \
            group (n-1)/group-size. With --server-pid the server's CPU time and RSS (from /proc) are part of \
            the results.
            """,
        subcommands: [Login.self, Hold.self, Messages.self, Presence.self, Relay.self])
}

struct CommonOptions: ParsableArguments {
    @Option(help: "Server address to connect to.") var host = "127.0.0.1"
    @Option(help: "Server c2s port.") var port = 5222
    @Option(help: "The XMPP domain (stream 'to').") var domain = "localhost"
    @Option(help: "Username prefix: accounts are <prefix><n>.") var userPrefix = "user"
    @Option(help: "First user number.") var firstUser = 1
    @Option(help: "Password of every account.") var password = "bench-password"
    @Option(help: "Resource to bind.") var resource = "load"
    @Flag(help: "Use STARTTLS before authenticating.") var tls = false
    @Option(help: "SASL mechanism: auto (SCRAM-SHA-256, else SCRAM-SHA-1), SCRAM-SHA-1 or SCRAM-SHA-256.")
    var mechanism: String = "auto"
    @Option(help: "First local (source) address, e.g. 127.0.1.1; later ones count up from it.")
    var sourceAddress = "127.0.1.1"
    @Option(help: "Connections per source address before moving to the next one.") var perAddress = 4000
    @Option(help: "Number of source addresses to use (cycled).") var sourceAddresses = 16
    @Option(help: "File caching SCRAM keys per (password, salt, iterations) across runs.") var scramCache: String?
    @Option(help: "Seconds a login may take before it counts as failed.") var loginTimeout = 60.0
    @Option(help: "Logins in progress at once.") var concurrency = 200
    @Option(help: "Connections started per second during login (0: as fast as --concurrency allows).") var loginRate = 0.0
    @Option(help: "Size of the groups of mutual contacts the accounts were created with (contacts + 1).") var groupSize = 21
    @Option(help: "PID of the server process, to report its CPU time and RSS.") var serverPid: Int32?
    @Option(help: "Label for the results (e.g. the server's name).") var label = "server"
    @Option(help: "Seconds of silence from the server that count as 'settled' after login.") var settle = 1.0
    @Option(help: "Longest wait for the server to settle, in seconds.") var settleTimeout = 30.0

    func loadOptions() throws -> LoadOptions {
        guard let choice = MechanismChoice(rawValue: mechanism) else {
            throw ValidationError("--mechanism must be one of: \(MechanismChoice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let parts = sourceAddress.split(separator: ".").compactMap { UInt32($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 < 256 }) else { throw ValidationError("--source-address must be an IPv4 address") }
        let first = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
        let addresses = try (0..<UInt32(max(1, sourceAddresses))).map { offset -> SocketAddress in
            let value = first + offset
            return try SocketAddress(ipAddress: "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)", port: 0)
        }
        return LoadOptions(host: host, port: port, domain: domain, userPrefix: userPrefix, password: password,
                           resource: resource, tls: tls, mechanism: choice, sourceAddresses: addresses,
                           perAddress: perAddress, scramCache: scramCache, loginTimeout: loginTimeout,
                           concurrency: max(1, concurrency), groupSize: max(2, groupSize))
    }

    func sampleServer() -> ProcessSample? {
        serverPid.flatMap { ProcessSample.read(pid: $0) }
    }

    func common(_ scenario: String) -> [(String, JSONValue)] {
        [("scenario", .string(scenario)), ("label", .string(label)), ("tls", .bool(tls)), ("port", .int(port))]
    }
}

/// One event loop thread and the engine on it; shut down at the end of every scenario.
struct Harness {
    let group: MultiThreadedEventLoopGroup
    let run: LoadRun
    let options: CommonOptions
    let started = monotonicNanos()
    let ownCPUStart = ProcessSample.ownCPUSeconds()

    init(_ options: CommonOptions) throws {
        self.options = options
        Self.raiseFileLimit()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            run = try LoadRun(loop: group.next(), options: try options.loadOptions())
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Waits until nothing has arrived for `--settle` seconds (presence exchanges after login), bounded by `--settle-timeout`.
    func settle() async throws -> Double {
        let start = monotonicNanos()
        let quiet = UInt64(options.settle * 1e9)
        let limit = UInt64(options.settleTimeout * 1e9)
        while monotonicNanos() &- start < limit {
            if try await run.quietFor() >= quiet { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return Double(monotonicNanos() &- start) / 1e9
    }

    func finish(_ sessions: [Session]) async throws {
        try await run.saveKeyCache()
        try await run.closeAll(sessions, timeout: 10)
        try await group.shutdownGracefully()
    }

    func clientFields() -> [(String, JSONValue)] {
        [("client_cpu_s", .double(ProcessSample.ownCPUSeconds() - ownCPUStart)),
         ("wall_s", .double(Double(monotonicNanos() &- started) / 1e9))]
    }

    static func serverFields(_ before: ProcessSample?, _ after: ProcessSample?, prefix: String = "server_") -> [(String, JSONValue)] {
        guard let before, let after else { return [] }
        return [("\(prefix)cpu_s", .double(after.cpuSeconds - before.cpuSeconds)),
                ("\(prefix)rss_before_kb", .int(before.rssKB)), ("\(prefix)rss_after_kb", .int(after.rssKB)),
                ("\(prefix)threads", .int(after.threads))]
    }

    static func loginFields(_ login: LoginResult) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [
            ("users", .int(login.attempted)), ("ready", .int(login.ready)), ("failed", .int(login.failed)),
            ("login_s", .double(login.seconds)),
            ("sessions_per_s", .double(login.seconds > 0 ? Double(login.ready) / login.seconds : 0)),
            ("roster_items", .int(login.rosterItems)),
            ("mechanisms", .object(login.mechanisms.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
        ]
        fields += login.latency.summary(prefix: "login_latency_")
        if !login.failures.isEmpty {
            fields.append(("failures", .object(login.failures.sorted { $0.value > $1.value }.prefix(8).map { ($0.key, .int($0.value)) })))
        }
        return fields
    }

    /// Prints the JSON line (stdout) and the summary (stderr).
    static func emit(_ fields: [(String, JSONValue)], summary: String) {
        FileHandle.standardOutput.write(Data((JSONValue.object(fields).text + "\n").utf8))
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    private static func raiseFileLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

func loginSummary(_ login: LoginResult) -> String {
    var text = "  logins: \(login.ready)/\(login.attempted) ready in \(format(login.seconds, 2)) s"
        + " (\(format(login.seconds > 0 ? Double(login.ready) / login.seconds : 0)) sessions/s),"
        + " latency p50 \(format(Double(login.latency.quantile(0.5)) / 1e6)) ms"
        + " p99 \(format(Double(login.latency.quantile(0.99)) / 1e6)) ms"
    if login.failed > 0 {
        text += "\n  failures: " + login.failures.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value)× \($0.key)" }.joined(separator: "; ")
    }
    return text
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Login storm: connect, authenticate, bind, get the roster, send presence; report sessions/s.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Number of users to log in.") var users = 1000
    @Option(help: "Logins started per second (0: as fast as --concurrency allows).") var rate = 0.0
    @Option(help: "Seconds to keep the sessions open after login (RSS is sampled at the end).") var hold = 0.0

    func run() async throws {
        let harness = try Harness(common)
        let sessions = harness.run.makeSessions(first: common.firstUser, count: users)
        let before = common.sampleServer()
        let login = try await harness.run.login(sessions, rate: rate > 0 ? rate : common.loginRate)
        let afterLogin = common.sampleServer()
        let settled = try await harness.settle()
        // The login's consequences (presence probes and broadcasts to contacts) belong to its cost.
        let afterSettle = common.sampleServer()
        if hold > 0 { try await Task.sleep(nanoseconds: UInt64(hold * 1e9)) }
        let held = common.sampleServer()
        let status = try await harness.run.status()
        var fields = common.common("login") + Harness.loginFields(login)
        fields += Harness.serverFields(before, afterLogin)
        if let before, let held {
            fields.append(("server_rss_held_kb", .int(held.rssKB)))
            fields.append(("server_kb_per_session", .double(login.ready > 0 ? Double(held.rssKB - before.rssKB) / Double(login.ready) : 0)))
            let loginCPU = (afterSettle?.cpuSeconds ?? held.cpuSeconds) - before.cpuSeconds
            fields.append(("server_cpu_login_s", .double(loginCPU)))
            fields.append(("server_cpu_ms_per_login", .double(login.ready > 0 ? loginCPU * 1000 / Double(login.ready) : 0)))
            fields.append(("server_cpu_settle_s", .double((afterSettle?.cpuSeconds ?? held.cpuSeconds) - (afterLogin?.cpuSeconds ?? held.cpuSeconds))))
            fields.append(("server_cpu_hold_s", .double(held.cpuSeconds - (afterSettle?.cpuSeconds ?? held.cpuSeconds))))
        }
        fields += [("settle_s", .double(settled)), ("open_at_end", .int(status.open)), ("dropped", .int(status.dropped)),
                   ("scram_cache_hits", .int(status.cacheHits)), ("scram_cache_misses", .int(status.cacheMisses))]
        fields += harness.clientFields()
        var summary = "[\(common.label)] login storm, \(users) users\(common.tls ? " (STARTTLS)" : "")\n" + loginSummary(login)
        if let before, let afterSettle, let held, login.ready > 0 {
            summary += "\n  server: \(format((afterSettle.cpuSeconds - before.cpuSeconds) * 1000 / Double(login.ready), 2)) CPU ms/login,"
                + " RSS \(before.rssKB / 1024) → \(held.rssKB / 1024) MiB (\(format(Double(held.rssKB - before.rssKB) / Double(login.ready), 1)) KB/session)"
        }
        Harness.emit(fields, summary: summary)
        try await harness.finish(sessions)
    }
}

struct Hold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log N sessions in and keep them idle for a while, sampling the server's RSS.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Number of sessions.") var users = 1000
    @Option(help: "Seconds to hold the sessions after login.") var duration = 30.0
    @Option(help: "Seconds between RSS samples.") var interval = 5.0

    func run() async throws {
        let harness = try Harness(common)
        let sessions = harness.run.makeSessions(first: common.firstUser, count: users)
        let before = common.sampleServer()
        let login = try await harness.run.login(sessions, rate: common.loginRate)
        _ = try await harness.settle()
        var samples: [JSONValue] = []
        let start = monotonicNanos()
        while Double(monotonicNanos() &- start) / 1e9 < duration {
            if let sample = common.sampleServer() { samples.append(.int(sample.rssKB)) }
            try await Task.sleep(nanoseconds: UInt64(min(interval, duration) * 1e9))
        }
        let after = common.sampleServer()
        let status = try await harness.run.status()
        var fields = common.common("hold") + Harness.loginFields(login) + Harness.serverFields(before, after)
        fields += [("held_s", .double(duration)), ("rss_samples_kb", .array(samples)), ("open_at_end", .int(status.open)),
                   ("dropped", .int(status.dropped))]
        if let before, let after, login.ready > 0 {
            fields.append(("server_kb_per_session", .double(Double(after.rssKB - before.rssKB) / Double(login.ready))))
        }
        fields += harness.clientFields()
        var summary = "[\(common.label)] hold \(users) sessions for \(format(duration)) s\n" + loginSummary(login)
        if let before, let after, login.ready > 0 {
            summary += "\n  server RSS \(before.rssKB / 1024) → \(after.rssKB / 1024) MiB,"
                + " \(format(Double(after.rssKB - before.rssKB) / Double(login.ready))) KB/session; \(status.open) still open"
        }
        Harness.emit(fields, summary: summary)
        try await harness.finish(sessions)
    }
}

struct Messages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One-to-one chat messages between online users at a fixed offered rate, with a latency probe.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Online users sending and receiving (two more, after them, are the probe pair).") var users = 1000
    @Option(help: "Offered messages per second (all senders together).") var rate = 1000.0
    @Option(help: "Seconds of measured sending.") var duration = 10.0
    @Option(help: "Seconds of unmeasured sending at the same rate first.") var warmup = 2.0
    @Option(help: "Approximate body size in bytes.") var bodySize = 64
    @Option(help: "Milliseconds between probe messages.") var probeInterval = 10.0
    @Option(help: "Longest wait, in seconds, for messages in flight once sending stops.") var drainTimeout = 10.0

    func run() async throws {
        let harness = try Harness(common)
        let run = harness.run
        let sessions = run.makeSessions(first: common.firstUser, count: users)
        let probeSender = run.makeSessions(first: common.firstUser + users, count: 1, role: .probeSender)[0]
        let probeReceiver = run.makeSessions(first: common.firstUser + users + 1, count: 1, role: .probeReceiver)[0]
        let everyone = sessions + [probeSender, probeReceiver]
        let login = try await run.login(everyone, rate: common.loginRate)
        _ = try await harness.settle()
        guard login.ready > 0 else {
            Harness.emit(common.common("messages") + Harness.loginFields(login) + [("error", .string("no session logged in"))],
                         summary: "[\(common.label)] messages: no session logged in\n" + loginSummary(login))
            try await harness.finish(everyone)
            throw ExitCode(2)
        }
        if warmup > 0 {
            try await run.sendMessages(senders: sessions, rate: rate, duration: warmup, bodySize: bodySize,
                                       probe: nil, probeInterval: 1)
            try await drain(run, timeout: drainTimeout)
        }
        let before = common.sampleServer()
        let clientBefore = ProcessSample.ownCPUSeconds()
        let sendStart = monotonicNanos()
        try await run.sendMessages(senders: sessions, rate: rate, duration: duration, bodySize: bodySize,
                                   probe: (probeSender, probeReceiver), probeInterval: probeInterval / 1000)
        let sendSeconds = Double(monotonicNanos() &- sendStart) / 1e9
        let clientSendCPU = ProcessSample.ownCPUSeconds() - clientBefore
        let drained = try await drain(run, timeout: drainTimeout)
        let after = common.sampleServer()
        let clientCPU = ProcessSample.ownCPUSeconds() - clientBefore
        let result = try await run.messageResult()
        let status = try await run.status()
        let offeredRate = Double(result.offered) / duration
        var fields = common.common("messages") + [
            ("users", .int(users)), ("ready", .int(login.ready)), ("rate", .double(rate)), ("duration_s", .double(duration)),
            ("offered", .int(result.offered)), ("sent", .int(result.sent)), ("not_writable", .int(result.notWritable)),
            ("delivered", .int(result.delivered)), ("bounced", .int(result.bounced)), ("stale", .int(result.stale)),
            ("delivered_ratio", .double(result.offered > 0 ? Double(result.delivered) / Double(result.offered) : 0)),
            ("offered_per_s", .double(offeredRate)), ("delivered_per_s", .double(Double(result.delivered) / duration)),
            ("send_s", .double(sendSeconds)), ("drain_s", .double(drained)), ("max_burst", .int(result.maxBurst)),
            ("probe_sent", .int(result.probeSent)), ("probe_delivered", .int(result.probeDelivered)),
        ]
        fields += result.probeLatency.summary(prefix: "probe_latency_")
        fields += result.latency.summary(prefix: "latency_")
        fields += Harness.serverFields(before, after)
        if let before, let after, result.delivered > 0 {
            fields.append(("server_cpu_s_per_1000", .double((after.cpuSeconds - before.cpuSeconds) * 1000 / Double(result.delivered))))
            fields.append(("server_cpu_util", .double((after.cpuSeconds - before.cpuSeconds) / (sendSeconds + drained))))
        }
        fields += [("client_cpu_measured_s", .double(clientCPU)),
                   ("client_cpu_util", .double(clientCPU / max(0.001, sendSeconds + drained))),
                   ("client_cpu_send_util", .double(clientSendCPU / max(0.001, sendSeconds))),
                   ("dropped", .int(status.dropped))]
        fields += Harness.loginFields(login).filter { ["login_s", "failed", "mechanisms"].contains($0.0) }
        fields += harness.clientFields()
        var summary = "[\(common.label)] messages: \(users) users, offered \(format(rate, 0))/s for \(format(duration)) s\(common.tls ? " (STARTTLS)" : "")\n"
            + "  delivered \(result.delivered)/\(result.offered) (\(format(result.offered > 0 ? 100 * Double(result.delivered) / Double(result.offered) : 0))%),"
            + " bounced \(result.bounced), not writable \(result.notWritable)\n"
            + "  probe latency p50 \(format(Double(result.probeLatency.quantile(0.5)) / 1e6, 2)) ms"
            + " p99 \(format(Double(result.probeLatency.quantile(0.99)) / 1e6, 2)) ms max \(format(Double(result.probeLatency.max) / 1e6, 2)) ms;"
            + " all messages p50 \(format(Double(result.latency.quantile(0.5)) / 1e6, 2)) ms p99 \(format(Double(result.latency.quantile(0.99)) / 1e6, 2)) ms"
        if let before, let after, result.delivered > 0 {
            summary += "\n  server: \(format((after.cpuSeconds - before.cpuSeconds) * 1000 / Double(result.delivered), 3)) CPU s per 1000 delivered;"
                + " client CPU \(format(clientCPU, 2)) s"
        }
        if login.failed > 0 { summary += "\n" + loginSummary(login) }
        Harness.emit(fields, summary: summary)
        try await harness.finish(everyone)
    }

    /// Waits until everything sent has arrived (or bounced), at most `timeout` seconds; returns the seconds waited.
    @discardableResult
    func drain(_ run: LoadRun, timeout: Double) async throws -> Double {
        let start = monotonicNanos()
        while Double(monotonicNanos() &- start) / 1e9 < timeout {
            let progress = try await run.messageProgress()
            if progress.accounted >= progress.expected { break }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        return Double(monotonicNanos() &- start) / 1e9
    }
}

struct Presence: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Presence fan-out: every user changes presence U times; count the updates contacts receive.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Online users (a multiple of --group-size, so every contact is online).") var users = 1050
    @Option(help: "Contacts per user (--group-size - 1 unless given).") var contacts: Int?
    @Option(help: "Presence updates per user.") var updates = 5
    @Option(help: "Updates sent per second, all users together (0: all at once).") var rate = 2000.0
    @Option(help: "Longest wait, in seconds, for the fan-out to finish once sending stops.") var drainTimeout = 30.0

    func run() async throws {
        let harness = try Harness(common)
        let run = harness.run
        let sessions = run.makeSessions(first: common.firstUser, count: users)
        let login = try await run.login(sessions, rate: common.loginRate)
        _ = try await harness.settle()
        let contactCount = contacts ?? (common.groupSize - 1)
        let before = common.sampleServer()
        let start = monotonicNanos()
        try await run.sendPresence(sessions: sessions, updates: updates, rate: rate)
        let sendSeconds = Double(monotonicNanos() &- start) / 1e9
        let expected = login.ready * updates * contactCount
        let drainStart = monotonicNanos()
        while Double(monotonicNanos() &- drainStart) / 1e9 < drainTimeout {
            let got = try await run.presenceResult().received
            if got >= expected { break }
            // Stop early once the server has been silent for a while: nothing more is coming.
            if try await run.quietFor() > 3_000_000_000 { break }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let total = Double(monotonicNanos() &- start) / 1e9
        let after = common.sampleServer()
        let result = try await run.presenceResult()
        let status = try await run.status()
        var fields = common.common("presence") + [
            ("users", .int(users)), ("ready", .int(login.ready)), ("contacts", .int(contactCount)), ("updates_per_user", .int(updates)),
            ("rate", .double(rate)), ("updates_sent", .int(result.sent)), ("expected", .int(expected)), ("received", .int(result.received)),
            ("received_ratio", .double(expected > 0 ? Double(result.received) / Double(expected) : 0)),
            ("send_s", .double(sendSeconds)), ("total_s", .double(total)),
            ("received_per_s", .double(total > 0 ? Double(result.received) / total : 0)),
        ]
        fields += result.latency.summary(prefix: "latency_")
        fields += Harness.serverFields(before, after)
        if let before, let after, result.sent > 0 {
            fields.append(("server_cpu_s_per_1000_updates", .double((after.cpuSeconds - before.cpuSeconds) * 1000 / Double(result.sent))))
            if result.received > 0 {
                fields.append(("server_cpu_s_per_1000_deliveries", .double((after.cpuSeconds - before.cpuSeconds) * 1000 / Double(result.received))))
            }
        }
        fields += [("dropped", .int(status.dropped))]
        fields += Harness.loginFields(login).filter { ["login_s", "failed", "mechanisms", "roster_items"].contains($0.0) }
        fields += harness.clientFields()
        var summary = "[\(common.label)] presence: \(users) users × \(updates) updates, \(contactCount) contacts each\n"
            + "  received \(result.received)/\(expected) updates in \(format(total, 2)) s,"
            + " latency p50 \(format(Double(result.latency.quantile(0.5)) / 1e6, 2)) ms p99 \(format(Double(result.latency.quantile(0.99)) / 1e6, 2)) ms"
        if let before, let after, result.sent > 0 {
            summary += "\n  server: \(format((after.cpuSeconds - before.cpuSeconds) * 1000 / Double(result.sent), 3)) CPU s per 1000 updates sent"
        }
        if login.failed > 0 { summary += "\n" + loginSummary(login) }
        Harness.emit(fields, summary: summary)
        try await harness.finish(sessions)
    }
}
