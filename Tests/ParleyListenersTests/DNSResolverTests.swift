import NIOCore
@testable import ParleyNIO
import Synchronization
import Testing

// MARK: - Fakes

/// Answers SRV questions from a table; a name missing from the table is `.notFound`.
/// Remembers every name asked, so tests can check that overrides keep DNS out of it.
private final class FakeDNSResolver: DNSResolver {
    let srvAnswers: [String: Result<[SRVRecord], DNSLookupError>]
    private let asked = Mutex<[String]>([])

    init(_ srvAnswers: [String: Result<[SRVRecord], DNSLookupError>] = [:]) {
        self.srvAnswers = srvAnswers
    }

    var askedNames: [String] { asked.withLock { $0 } }

    func srv(_ name: String) async throws(DNSLookupError) -> [SRVRecord] {
        asked.withLock { $0.append(name) }
        return try (srvAnswers[name] ?? .failure(.notFound)).get()
    }

    func addresses(_ host: String, port: Int) async throws(DNSLookupError) -> [SocketAddress] {
        asked.withLock { $0.append(host) }
        throw .notFound
    }
}

/// SplitMix64: small, seedable, good enough for tests.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func seededRandom(_ seed: UInt64) -> S2SEndpointResolver.RandomSource {
    let generator = Mutex(SplitMix64(state: seed))
    return { range in generator.withLock { Int.random(in: range, using: &$0) } }
}

/// Returns scripted draws in order and records the ranges asked for.
private final class ScriptedRandom: Sendable {
    private let state: Mutex<(draws: [Int], ranges: [ClosedRange<Int>])>
    init(_ draws: [Int]) { state = Mutex((draws, [])) }
    var ranges: [ClosedRange<Int>] { state.withLock { $0.ranges } }
    var source: S2SEndpointResolver.RandomSource {
        { range in
            self.state.withLock { state in
                state.ranges.append(range)
                return state.draws.isEmpty ? range.lowerBound : state.draws.removeFirst()
            }
        }
    }
}

private func srv(_ priority: UInt16, _ weight: UInt16, _ target: String, _ port: UInt16 = 5269) -> SRVRecord {
    SRVRecord(priority: priority, weight: weight, port: port, target: target)
}

private let lowest: S2SEndpointResolver.RandomSource = { $0.lowerBound }
private let highest: S2SEndpointResolver.RandomSource = { $0.upperBound }

private func order(_ records: [SRVRecord], _ random: S2SEndpointResolver.RandomSource) -> [String] {
    S2SEndpointResolver.orderedByRFC2782(records, record: { $0 }, random: random).map(\.target)
}

// MARK: - RFC 2782 ordering

@Suite("DNS: RFC 2782 ordering")
struct DNSOrderingTests {
    @Test func prioritiesAscend() {
        let records = [srv(20, 0, "d"), srv(5, 0, "b"), srv(10, 0, "c"), srv(0, 0, "a"), srv(65535, 0, "e")]
        #expect(order(records, lowest) == ["a", "b", "c", "d", "e"])
        #expect(order(records, highest) == ["a", "b", "c", "d", "e"])
        for seed in 0..<20 {
            #expect(order(records, seededRandom(UInt64(seed))) == ["a", "b", "c", "d", "e"])
        }
    }

    @Test func allZeroWeightsKeepAnswerOrder() {
        let records = [srv(1, 0, "x"), srv(1, 0, "y"), srv(1, 0, "z")]
        #expect(order(records, seededRandom(7)) == ["x", "y", "z"])
    }

    @Test func zeroWeightsGoFirstInTheRunningSum() {
        // Within a priority the list is [b(0), a(10), c(20)] (zero weights first), running sums 0, 10, 30.
        let records = [srv(1, 10, "a"), srv(1, 0, "b"), srv(1, 20, "c")]
        // A draw of 0 selects the first entry whose running sum is ≥ 0: the zero-weight one.
        #expect(order(records, lowest) == ["b", "a", "c"])
        // The top draw selects the last entry reaching the total; zero weights end up last.
        #expect(order(records, highest) == ["c", "a", "b"])
    }

    @Test func scriptedDrawsFollowTheRunningSum() {
        let records = [srv(1, 10, "a"), srv(1, 0, "b"), srv(1, 20, "c"), srv(2, 5, "d"), srv(2, 5, "e")]
        // Priority 1: sums b0 a10 c30; draw 11 → c. Then b0 a10; draw 10 → a. Then b0; draw 0 → b.
        // Priority 2: sums d5 e10; draw 6 → e. Then d5; draw 5 → d.
        let random = ScriptedRandom([11, 10, 0, 6, 5])
        #expect(order(records, random.source) == ["c", "a", "b", "e", "d"])
        #expect(random.ranges == [0...30, 0...10, 0...0, 0...10, 0...5])
    }

    @Test func deterministicForAFixedSeed() {
        let records = (0..<8).map { srv(UInt16($0 % 2), UInt16($0 * 7 % 5), "host\($0)") }
        let first = order(records, seededRandom(42))
        #expect(order(records, seededRandom(42)) == first)
        #expect(Set(first) == Set(records.map(\.target)))
        // Every priority-0 host comes before every priority-1 host.
        let priorityOf = Dictionary(uniqueKeysWithValues: records.map { ($0.target, $0.priority) })
        #expect(first.map { priorityOf[$0]! } == first.map { priorityOf[$0]! }.sorted())
    }

    @Test func firstChoiceIsProportionalToWeight() {
        // Running sums zero(0) light(10) heavy(40): P(first) = 1/41, 10/41, 30/41.
        let records = [srv(0, 10, "light"), srv(0, 30, "heavy"), srv(0, 0, "zero")]
        let random = seededRandom(2782)
        var firsts: [String: Int] = [:]
        let draws = 20_000
        for _ in 0..<draws {
            firsts[order(records, random)[0], default: 0] += 1
        }
        func share(_ name: String) -> Double { Double(firsts[name, default: 0]) / Double(draws) }
        #expect(abs(share("heavy") - 30.0 / 41) < 0.02)
        #expect(abs(share("light") - 10.0 / 41) < 0.02)
        #expect(abs(share("zero") - 1.0 / 41) < 0.01)
    }
}

// MARK: - S2S endpoint resolution

@Suite("DNS: S2S endpoints (RFC 6120 §3.2, XEP-0368)")
struct S2SEndpointResolverTests {
    @Test func mergesDirectTLSAndStartTLSRecordsByPriority() async throws {
        let dns = FakeDNSResolver([
            "_xmpps-server._tcp.example.org": .success([srv(10, 0, "tls.example.org", 5270)]),
            "_xmpp-server._tcp.example.org": .success([srv(5, 0, "a.example.org"), srv(20, 0, "b.example.org.")]),
        ])
        let resolver = S2SEndpointResolver(resolver: dns, random: seededRandom(1))
        let endpoints = try await resolver.endpoints(for: "example.org")
        #expect(endpoints == [
            S2SEndpoint(host: "a.example.org", port: 5269, directTLS: false),
            S2SEndpoint(host: "tls.example.org", port: 5270, directTLS: true),
            // The trailing dot of an absolute target is dropped.
            S2SEndpoint(host: "b.example.org", port: 5269, directTLS: false),
        ])
        #expect(Set(dns.askedNames) == ["_xmpps-server._tcp.example.org", "_xmpp-server._tcp.example.org"])
    }

    @Test func equalPriorityMixesWeightsAcrossBothServices() async throws {
        let dns = FakeDNSResolver([
            "_xmpps-server._tcp.example.org": .success([srv(1, 0, "direct", 443)]),
            "_xmpp-server._tcp.example.org": .success([srv(1, 0, "starttls")]),
        ])
        // All weights 0: the merged order is kept, direct TLS first.
        let zeroWeights = try await S2SEndpointResolver(resolver: dns, random: highest).endpoints(for: "example.org")
        #expect(zeroWeights.map(\.host) == ["direct", "starttls"])
        #expect(zeroWeights.map(\.directTLS) == [true, false])

        let weighted = FakeDNSResolver([
            "_xmpps-server._tcp.example.org": .success([srv(1, 1, "direct", 443)]),
            "_xmpp-server._tcp.example.org": .success([srv(1, 99, "starttls")]),
        ])
        // Running sums direct 1, starttls 100: a draw of 50 picks STARTTLS first.
        let random = ScriptedRandom([50])
        let endpoints = try await S2SEndpointResolver(resolver: weighted, random: random.source).endpoints(for: "example.org")
        #expect(endpoints.map(\.host) == ["starttls", "direct"])
        #expect(random.ranges.first == 0...100)
    }

    @Test func fallsBackToTheDomainOn5269WhenNeitherSRVNameExists() async throws {
        let dns = FakeDNSResolver()
        let resolver = S2SEndpointResolver(resolver: dns)
        let endpoints = try await resolver.endpoints(for: "Example.ORG.")
        #expect(endpoints == [S2SEndpoint(host: "example.org", port: 5269, directTLS: false)])
        #expect(Set(dns.askedNames) == ["_xmpps-server._tcp.example.org", "_xmpp-server._tcp.example.org"])
    }

    @Test func oneMissingServiceDoesNotTriggerFallback() async throws {
        let dns = FakeDNSResolver(["_xmpp-server._tcp.example.org": .success([srv(0, 0, "xmpp.example.org")])])
        let endpoints = try await S2SEndpointResolver(resolver: dns).endpoints(for: "example.org")
        #expect(endpoints == [S2SEndpoint(host: "xmpp.example.org", port: 5269, directTLS: false)])
    }

    @Test func dotTargetMeansNoServiceAndNoFallback() async throws {
        // RFC 2782 / RFC 6120 §3.2.1: a lone "." for _xmpp-server: abort, no A/AAAA fallback.
        let noStartTLS = FakeDNSResolver(["_xmpp-server._tcp.example.org": .success([srv(0, 0, ".", 0)])])
        #expect(try await S2SEndpointResolver(resolver: noStartTLS).endpoints(for: "example.org") == [])

        // XEP-0368 §5: "." for _xmpps-server means no direct TLS; the STARTTLS records still apply…
        let noDirect = FakeDNSResolver([
            "_xmpps-server._tcp.example.org": .success([srv(0, 0, ".", 0)]),
            "_xmpp-server._tcp.example.org": .success([srv(0, 0, "xmpp.example.org")]),
        ])
        #expect(try await S2SEndpointResolver(resolver: noDirect).endpoints(for: "example.org")
            == [S2SEndpoint(host: "xmpp.example.org", port: 5269, directTLS: false)])

        // … and when there are none, no A/AAAA fallback either.
        let onlyDot = FakeDNSResolver(["_xmpps-server._tcp.example.org": .success([srv(0, 0, ".", 0)])])
        #expect(try await S2SEndpointResolver(resolver: onlyDot).endpoints(for: "example.org") == [])

        // The root as an empty name (how some resolvers spell it) counts too.
        let emptyTarget = FakeDNSResolver(["_xmpp-server._tcp.example.org": .success([srv(0, 0, "", 0)])])
        #expect(try await S2SEndpointResolver(resolver: emptyTarget).endpoints(for: "example.org") == [])
    }

    @Test func dotAmongOtherRecordsIsIgnored() async throws {
        let dns = FakeDNSResolver([
            "_xmpp-server._tcp.example.org": .success([srv(0, 0, ".", 0), srv(1, 0, "xmpp.example.org")]),
        ])
        #expect(try await S2SEndpointResolver(resolver: dns).endpoints(for: "example.org")
            == [S2SEndpoint(host: "xmpp.example.org", port: 5269, directTLS: false)])
    }

    @Test func overridesReplaceDNS() async throws {
        let dns = FakeDNSResolver(["_xmpp-server._tcp.example.org": .success([srv(0, 0, "from-dns")])])
        let pinned = [
            S2SEndpoint(host: "10.0.0.7", port: 15269, directTLS: true),
            S2SEndpoint(host: "backup.internal", port: 5269, directTLS: false),
        ]
        let resolver = S2SEndpointResolver(
            resolver: dns,
            overrides: ["Example.org.": pinned, "closed.example": []]
        )
        #expect(try await resolver.endpoints(for: "example.ORG") == pinned)
        // An empty override says the domain is unreachable, without asking DNS.
        #expect(try await resolver.endpoints(for: "closed.example") == [])
        #expect(dns.askedNames.isEmpty)
        // Other domains still go to DNS.
        #expect(try await resolver.endpoints(for: "other.example")
            == [S2SEndpoint(host: "other.example", port: 5269, directTLS: false)])
        #expect(!dns.askedNames.isEmpty)
    }

    @Test func ipLiteralDomainsSkipSRV() async throws {
        let dns = FakeDNSResolver()
        let resolver = S2SEndpointResolver(resolver: dns)
        #expect(try await resolver.endpoints(for: "192.0.2.1")
            == [S2SEndpoint(host: "192.0.2.1", port: 5269, directTLS: false)])
        #expect(try await resolver.endpoints(for: "[2001:db8::1]")
            == [S2SEndpoint(host: "2001:db8::1", port: 5269, directTLS: false)])
        #expect(dns.askedNames.isEmpty)
    }

    @Test func temporaryFailuresAreReportedUnlessTheOtherServiceAnswers() async throws {
        let bothFail = FakeDNSResolver([
            "_xmpps-server._tcp.example.org": .failure(.temporaryFailure("SERVFAIL")),
            "_xmpp-server._tcp.example.org": .failure(.temporaryFailure("timeout")),
        ])
        await #expect(throws: DNSLookupError.self) {
            try await S2SEndpointResolver(resolver: bothFail).endpoints(for: "example.org")
        }

        // A failure next to a "not found" is not a "not found": no fallback to A/AAAA.
        let oneFails = FakeDNSResolver(["_xmpps-server._tcp.example.org": .failure(.temporaryFailure("SERVFAIL"))])
        do {
            _ = try await S2SEndpointResolver(resolver: oneFails).endpoints(for: "example.org")
            Issue.record("expected a temporary failure")
        } catch {
            guard case .temporaryFailure(let reason) = error else {
                Issue.record("expected a temporary failure, got \(error)")
                return
            }
            #expect(reason.contains("_xmpps-server._tcp.example.org"))
            #expect(reason.contains("SERVFAIL"))
        }

        // Records from the other service are used.
        let partial = FakeDNSResolver([
            "_xmpps-server._tcp.example.org": .failure(.temporaryFailure("SERVFAIL")),
            "_xmpp-server._tcp.example.org": .success([srv(0, 0, "xmpp.example.org")]),
        ])
        #expect(try await S2SEndpointResolver(resolver: partial).endpoints(for: "example.org")
            == [S2SEndpoint(host: "xmpp.example.org", port: 5269, directTLS: false)])
    }

    @Test func emptyDomainIsNotFound() async {
        await #expect(throws: DNSLookupError.notFound) {
            try await S2SEndpointResolver(resolver: FakeDNSResolver()).endpoints(for: ".")
        }
    }
}

// MARK: - The C shim

/// Builds DNS answer messages by hand (RFC 1035 §4.1), with name compression.
private struct DNSMessage {
    var bytes: [UInt8] = []

    init(answers: Int, rcode: UInt8 = 0) {
        append16(0x1234)  // id
        append16(0x8180 | UInt16(rcode))  // response, RD, RA
        append16(1)  // questions
        append16(UInt16(answers))
        append16(0)
        append16(0)
    }

    mutating func append16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
    mutating func append32(_ value: UInt32) { append16(UInt16(value >> 16)); append16(UInt16(value & 0xFFFF)) }

    /// Appends `labels`, then a compression pointer to `pointer` (or the root). Returns each label's offset.
    @discardableResult
    mutating func appendName(_ labels: [String], pointer: Int? = nil) -> [Int] {
        var offsets: [Int] = []
        for label in labels {
            offsets.append(bytes.count)
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        if let pointer {
            append16(0xC000 | UInt16(pointer))
        } else {
            bytes.append(0)
        }
        return offsets
    }

    mutating func appendRecord(type: UInt16, rdata: (inout DNSMessage) -> Void) {
        append16(0xC00C)  // owner: the question name
        append16(type)
        append16(1)  // IN
        append32(300)
        let lengthAt = bytes.count
        append16(0)
        let start = bytes.count
        rdata(&self)
        let length = bytes.count - start
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}

@Suite("DNS: C shim")
struct DNSShimTests {
    @Test func parsesSRVAnswersWithCompressionAndSkipsOtherTypes() throws {
        var message = DNSMessage(answers: 4)
        let offsets = message.appendName(["_xmpp-server", "_tcp", "example", "org"])
        message.append16(33)  // SRV
        message.append16(1)
        let exampleOrg = offsets[2]
        message.appendRecord(type: 5) { $0.appendName(["alias"], pointer: exampleOrg) }  // a CNAME, skipped
        message.appendRecord(type: 33) {
            $0.append16(10); $0.append16(60); $0.append16(5269)
            $0.appendName(["xmpp1"], pointer: exampleOrg)
        }
        message.appendRecord(type: 33) {
            $0.append16(20); $0.append16(0); $0.append16(5270)
            $0.appendName(["xmpp2", "example", "net"])
        }
        message.appendRecord(type: 33) {
            $0.append16(0); $0.append16(0); $0.append16(0)
            $0.appendName([])  // the root: "."
        }
        let records = try SystemDNSResolver.parseSRVAnswer(message.bytes)
        #expect(records == [
            SRVRecord(priority: 10, weight: 60, port: 5269, target: "xmpp1.example.org"),
            SRVRecord(priority: 20, weight: 0, port: 5270, target: "xmpp2.example.net"),
            SRVRecord(priority: 0, weight: 0, port: 0, target: "."),
        ])
    }

    @Test func answerWithoutSRVRecordsIsNotFound() {
        var message = DNSMessage(answers: 0)
        message.appendName(["_xmpp-server", "_tcp", "example", "org"])
        message.append16(33)
        message.append16(1)
        #expect(throws: DNSLookupError.notFound) { try SystemDNSResolver.parseSRVAnswer(message.bytes) }
    }

    @Test func truncatedAnswerIsATemporaryFailure() {
        var message = DNSMessage(answers: 1)
        message.appendName(["_xmpp-server", "_tcp", "example", "org"])
        message.append16(33)
        message.append16(1)
        message.appendRecord(type: 33) {
            $0.append16(1); $0.append16(1); $0.append16(5269)
            $0.appendName(["xmpp", "example", "org"])
        }
        let cut = Array(message.bytes.dropLast(8))
        #expect(throws: DNSLookupError.temporaryFailure("malformed answer")) {
            try SystemDNSResolver.parseSRVAnswer(cut)
        }
    }
}

// MARK: - The system resolver (this machine only: localhost, never outside names)

@Suite("DNS: system resolver on this machine")
struct SystemDNSResolverTests {
    @Test func localhostHasLoopbackAddresses() async throws {
        let resolver = SystemDNSResolver(threads: 1, timeoutSeconds: 1, attempts: 1)
        let addresses = try await resolver.addresses("localhost", port: 5269)
        #expect(!addresses.isEmpty)
        for address in addresses {
            #expect(address.port == 5269)
            let ip = address.ipAddress ?? ""
            #expect(ip.hasPrefix("127.") || ip == "::1", "unexpected address \(address)")
        }
        #expect(addresses.count == Set(addresses.map { $0.ipAddress ?? "" }).count)
    }

    @Test func srvForLocalhostEndsQuicklyWithoutRecords() async {
        let resolver = SystemDNSResolver(threads: 1, timeoutSeconds: 1, attempts: 1)
        let clock = ContinuousClock()
        let started = clock.now
        do {
            let records = try await resolver.srv("_xmpp-server._tcp.localhost")
            Issue.record("unexpected SRV records for localhost: \(records)")
        } catch {
            // .notFound or .temporaryFailure are both fine here: there may be no reachable DNS server.
            _ = error
        }
        // 1 s per try, 1 try per server, at most 3 servers (MAXNS), plus slack.
        #expect(clock.now - started < .seconds(10))
    }
}
