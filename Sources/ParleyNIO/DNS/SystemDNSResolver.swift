import CResolv
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks the system resolver: SRV records through libresolv's `res_nquery` (honouring
/// `/etc/resolv.conf`), addresses through `getaddrinfo` (so `/etc/hosts` and NSS apply as for any
/// other program on the machine).
///
/// Both C calls block, for up to `timeoutSeconds × attempts` per name server. They run on a small
/// `NIOThreadPool` this resolver creates and owns, never on an event loop or on Swift's cooperative
/// pool: a blocked cooperative thread would stall unrelated tasks (the pool has one thread per core,
/// two on our machines), while a dedicated pool only delays other lookups. The pool is started in
/// `init` and shut down when the resolver is released.
public final class SystemDNSResolver: DNSResolver {
    /// Seconds to wait for one answer from one name server (the resolver's `RES_TIMEOUT`).
    public let timeoutSeconds: Int
    /// Tries per name server (the resolver's `attempts`).
    public let attempts: Int
    private let pool: NIOThreadPool

    /// Most SRV records or addresses taken from one answer; real zones have a handful.
    static let maxResults = 64
    static let errorCapacity = 256

    /// - Parameters:
    ///   - threads: lookups that may block at the same time; more wait their turn.
    ///   - timeoutSeconds: per-try wait for an SRV answer, at least 1.
    ///   - attempts: tries per name server for an SRV query, at least 1.
    public init(threads: Int = 2, timeoutSeconds: Int = 3, attempts: Int = 2) {
        self.timeoutSeconds = max(1, timeoutSeconds)
        self.attempts = max(1, attempts)
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.pool.start()
    }

    deinit {
        // Non-blocking: queued lookups still run, then the threads exit (they keep the pool alive).
        pool.shutdownGracefully { _ in }
    }

    public func srv(_ name: String) async throws(DNSLookupError) -> [SRVRecord] {
        let timeout = Int32(clamping: timeoutSeconds)
        let tries = Int32(clamping: attempts)
        return try await run {
            var records = [parley_srv_record](repeating: parley_srv_record(), count: Self.maxResults)
            var error = [CChar](repeating: 0, count: Self.errorCapacity)
            let count = parley_srv_query(name, timeout, tries, &records, Int32(Self.maxResults), &error, error.count)
            guard count > 0 else {
                return .failure(Self.lookupError(code: count, reason: error))
            }
            return .success(records.prefix(Int(count)).map(Self.srvRecord))
        }
    }

    /// Parses a DNS answer message the way `srv(_:)` does, for tests with hand-built answers.
    package static func parseSRVAnswer(_ answer: [UInt8]) throws(DNSLookupError) -> [SRVRecord] {
        var records = [parley_srv_record](repeating: parley_srv_record(), count: maxResults)
        var error = [CChar](repeating: 0, count: errorCapacity)
        let count = parley_srv_parse(answer, Int32(clamping: answer.count), &records, Int32(maxResults), &error, error.count)
        guard count > 0 else {
            throw lookupError(code: count, reason: error)
        }
        return records.prefix(Int(count)).map(srvRecord)
    }

    private static func srvRecord(_ record: parley_srv_record) -> SRVRecord {
        let target = withUnsafeBytes(of: record.target) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        return SRVRecord(priority: record.priority, weight: record.weight, port: record.port, target: target)
    }

    public func addresses(_ host: String, port: Int) async throws(DNSLookupError) -> [SocketAddress] {
        guard (0...65535).contains(port) else {
            throw .temporaryFailure("port \(port) out of range")
        }
        return try await run {
            var found = [parley_address](repeating: parley_address(), count: Self.maxResults)
            var error = [CChar](repeating: 0, count: Self.errorCapacity)
            let count = parley_address_query(host, Int32(port), &found, Int32(Self.maxResults), &error, error.count)
            guard count > 0 else {
                return .failure(Self.lookupError(code: count, reason: error))
            }
            return .success(found.prefix(Int(count)).compactMap { Self.socketAddress($0, host: host) })
        }
    }

    /// Runs `body` on the pool. Errors travel as a `Result` so the typed error survives the pool's
    /// untyped `throws`; the pool's own errors (shut down, task cancelled) become temporary failures.
    private func run<Value: Sendable>(
        _ body: @escaping @Sendable () -> Result<Value, DNSLookupError>
    ) async throws(DNSLookupError) -> Value {
        let result: Result<Value, DNSLookupError>
        do {
            result = try await pool.runIfActive(body)
        } catch is CancellationError {
            throw .temporaryFailure("lookup cancelled")
        } catch {
            throw .temporaryFailure("resolver unavailable: \(error)")
        }
        return try result.get()
    }

    private static func lookupError(code: Int32, reason: [CChar]) -> DNSLookupError {
        let text = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return code == PARLEY_DNS_NOT_FOUND ? .notFound : .temporaryFailure(text)
    }

    private static func socketAddress(_ address: parley_address, host: String) -> SocketAddress? {
        withUnsafeBytes(of: address.storage) { bytes in
            switch address.family {
            case AF_INET:
                return SocketAddress(bytes.loadUnaligned(as: sockaddr_in.self), host: host)
            case AF_INET6:
                return SocketAddress(bytes.loadUnaligned(as: sockaddr_in6.self), host: host)
            default:
                return nil
            }
        }
    }
}
