import NIOCore

/// Finds where to connect for server-to-server traffic to a remote domain (RFC 6120 §3.2, XEP-0368).
///
/// For a domain it asks for `_xmpps-server._tcp.<domain>` (direct TLS) and `_xmpp-server._tcp.<domain>`
/// (STARTTLS), merges both record sets and orders them as one (XEP-0368 §3 rule 1) by the RFC 2782
/// priority and weight algorithm. When neither name has SRV records it falls back to the domain itself
/// on port 5269 with STARTTLS (RFC 6120 §3.2.2). Addresses are resolved later, when connecting.
///
/// An override for a domain replaces DNS for it entirely (private networks, tests).
public struct S2SEndpointResolver: Sendable {
    /// Returns a uniformly distributed integer in the given range. Injected so tests are deterministic.
    public typealias RandomSource = @Sendable (ClosedRange<Int>) -> Int

    /// RFC 6120 §3.2.2, §14.7: the "xmpp-server" port used when there are no SRV records.
    public static let fallbackPort = 5269
    static let directTLSService = "_xmpps-server._tcp."
    static let startTLSService = "_xmpp-server._tcp."

    public let resolver: any DNSResolver
    /// Keys are normalised domains (lower case, no trailing dot).
    public let overrides: [String: [S2SEndpoint]]
    private let random: RandomSource

    /// - Parameters:
    ///   - resolver: where SRV questions go.
    ///   - overrides: endpoints per remote domain that replace DNS for that domain; an empty list
    ///     means the domain is unreachable. Keys are matched case-insensitively, trailing dot ignored.
    ///   - random: the random source for RFC 2782's weighted selection.
    public init(
        resolver: any DNSResolver,
        overrides: [String: [S2SEndpoint]] = [:],
        random: @escaping RandomSource = { Int.random(in: $0) }
    ) {
        self.resolver = resolver
        var normalised: [String: [S2SEndpoint]] = [:]
        for (domain, endpoints) in overrides {
            normalised[Self.normalise(domain), default: []].append(contentsOf: endpoints)
        }
        self.overrides = normalised
        self.random = random
    }

    /// The endpoints to try for `domain`, in order.
    ///
    /// An empty list means the domain has decidedly no server-to-server service (a `"."` SRV target,
    /// RFC 2782, with no usable records left), or an override says so; the caller should not retry.
    /// Throws `.temporaryFailure` when no endpoint could be found and at least one SRV lookup failed
    /// temporarily (the caller may retry later); throws `.notFound` only for an empty domain.
    public func endpoints(for domain: String) async throws(DNSLookupError) -> [S2SEndpoint] {
        let name = Self.normalise(domain)
        guard !name.isEmpty else {
            throw .notFound
        }
        if let configured = overrides[name] {
            return configured
        }
        if let literal = Self.ipLiteral(name) {
            // An IP literal domain has no DNS name to hold SRV records: connect to it directly.
            return [S2SEndpoint(host: literal, port: Self.fallbackPort, directTLS: false)]
        }

        async let directLookup = lookup(Self.directTLSService + name)
        async let startTLSLookup = lookup(Self.startTLSService + name)
        let direct = await directLookup
        let startTLS = await startTLSLookup

        var candidates: [(record: SRVRecord, directTLS: Bool)] = []
        // Direct TLS first: with equal priority and all weights 0, RFC 2782 keeps this order, which
        // prefers direct TLS (XEP-0368 §3 rule 1 lets the initiator prefer either).
        for (outcome, directTLS) in [(direct, true), (startTLS, false)] {
            if case .records(let records) = outcome {
                candidates += records.map { ($0, directTLS) }
            }
        }
        if !candidates.isEmpty {
            return Self.orderedByRFC2782(candidates, record: \.record, random: random).map {
                S2SEndpoint(host: $0.record.target, port: Int($0.record.port), directTLS: $0.directTLS)
            }
        }

        switch (direct, startTLS) {
        case (.notFound, .notFound):
            // RFC 6120 §3.2.2: no SRV records at all, so the domain itself on the default port.
            return [S2SEndpoint(host: name, port: Self.fallbackPort, directTLS: false)]
        case (.failed(let reason), _), (_, .failed(let reason)):
            throw .temporaryFailure(reason)
        default:
            // At least one set was a lone "." and the other has nothing. RFC 6120 §3.2.1 step 3 and
            // RFC 2782: abort. XEP-0368 §5: a "." for _xmpps-server MUST NOT lead to A/AAAA fallback.
            return []
        }
    }

    // MARK: - One record set

    enum Outcome: Sendable {
        /// Usable records (never empty, never a "." target).
        case records([SRVRecord])
        /// RFC 2782: precisely one record, with target ".": decidedly not available.
        case unavailable
        case notFound
        case failed(String)
    }

    private func lookup(_ name: String) async -> Outcome {
        do {
            let records = try await resolver.srv(name)
            if records.count == 1, records[0].isServiceUnavailableMarker {
                return .unavailable  // RFC 2782 "Usage rules"; RFC 6120 §3.2.1 step 3
            }
            // A "." among several records is meaningless (RFC 2782 defines it only alone); drop it.
            let usable = records.filter { !$0.isServiceUnavailableMarker }.map { record in
                var record = record
                if record.target.hasSuffix(".") {
                    record.target.removeLast()
                }
                return record
            }
            return usable.isEmpty ? .unavailable : .records(usable)
        } catch {
            switch error {
            case .notFound:
                return .notFound
            case .temporaryFailure(let reason):
                return .failed("\(name): \(reason)")
            }
        }
    }

    // MARK: - RFC 2782 ordering

    /// Orders `items` by RFC 2782 ("Usage rules" and "Weight"): ascending priority; within one
    /// priority, repeatedly put the zero-weight entries first, draw `r` uniformly from
    /// `0...sum of weights`, and take the first entry whose running weight sum is ≥ `r`.
    ///
    /// With equal priorities and all weights 0 the input order is kept.
    static func orderedByRFC2782<Item>(
        _ items: [Item],
        record: (Item) -> SRVRecord,
        random: RandomSource
    ) -> [Item] {
        // A stable grouping by priority: input order survives within a priority.
        var groups: [UInt16: [Item]] = [:]
        for item in items {
            groups[record(item).priority, default: []].append(item)
        }
        var ordered: [Item] = []
        ordered.reserveCapacity(items.count)
        for priority in groups.keys.sorted() {
            // Zero weights first (RFC 2782), otherwise input order.
            var remaining = groups[priority]!.filter { record($0).weight == 0 }
                + groups[priority]!.filter { record($0).weight != 0 }
            while !remaining.isEmpty {
                let total = remaining.reduce(0) { $0 + Int(record($1).weight) }
                let draw = min(max(random(0...total), 0), total)
                var running = 0
                var chosen = remaining.count - 1
                for (index, item) in remaining.enumerated() {
                    running += Int(record(item).weight)
                    if running >= draw {
                        chosen = index
                        break
                    }
                }
                ordered.append(remaining.remove(at: chosen))
            }
        }
        return ordered
    }

    // MARK: - Names

    /// Lower case without a trailing dot: DNS names compare case-insensitively and XMPP domainparts
    /// carry no final dot (RFC 7622 §3.2).
    static func normalise(_ domain: String) -> String {
        var name = domain.lowercased()
        while name.hasSuffix(".") {
            name.removeLast()
        }
        return name
    }

    /// The address if `name` is an IPv4 literal or a (possibly bracketed) IPv6 literal.
    static func ipLiteral(_ name: String) -> String? {
        var candidate = Substring(name)
        if candidate.hasPrefix("["), candidate.hasSuffix("]") {
            candidate = candidate.dropFirst().dropLast()
        }
        let text = String(candidate)
        return (try? SocketAddress(ipAddress: text, port: 0)) != nil ? text : nil
    }
}
