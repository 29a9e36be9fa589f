#if canImport(Glibc)
import Glibc
#endif
import Logging
import ParleyKernel
import ParleyNIO
import ParleyStorage
import XMPPStream
import XMPPXML

/// Everything a client connection needs from the server, shared by all connections.
public struct C2SServerContext: Sendable {
    public var kernel: Kernel
    public var accounts: any AccountStore
    public var tls: TLSContexts?
    public var configuration: C2SConfiguration
    public var limits: C2SLimits
    public var authFailures: AddressRateLimiter
    /// Accounts created by in-band registration per source address (XEP-0077 §11 abuse protection).
    public var registrations: AddressRateLimiter
    public var connections: ConnectionTracker
    public var logger: Logger

    public init(kernel: Kernel, accounts: any AccountStore, tls: TLSContexts?, configuration: C2SConfiguration,
                limits: C2SLimits, authFailures: AddressRateLimiter,
                registrations: AddressRateLimiter = AddressRateLimiter(limit: 5, windowSeconds: 3600),
                connections: ConnectionTracker, logger: Logger) {
        self.kernel = kernel
        self.accounts = accounts
        self.tls = tls
        self.configuration = configuration
        self.limits = limits
        self.authFailures = authFailures
        self.registrations = registrations
        self.connections = connections
        self.logger = logger
    }
}

/// Limits on what one client connection may do.
public struct C2SLimits: Sendable {
    public var beforeAuth: XMLStreamLimits
    public var afterAuth: XMLStreamLimits
    /// Seconds a connection may take to authenticate and bind.
    public var unauthenticatedTimeout: Double
    /// Seconds without any input before the connection is closed.
    public var idleTimeout: Double
    /// Stanzas queued for a client that does not read before its session is closed.
    public var maxOutboundQueue: Int

    public init(beforeAuth: XMLStreamLimits = XMLStreamLimits(maxElementBytes: 65_536),
                afterAuth: XMLStreamLimits = XMLStreamLimits(maxElementBytes: 262_144),
                unauthenticatedTimeout: Double = 30, idleTimeout: Double = 600, maxOutboundQueue: Int = 10_000) {
        self.beforeAuth = beforeAuth
        self.afterAuth = afterAuth
        self.unauthenticatedTimeout = unauthenticatedTimeout
        self.idleTimeout = idleTimeout
        self.maxOutboundQueue = maxOutboundQueue
    }
}

/// Seconds since 1970, for timestamps stored with records.
enum WallClock {
    static func seconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec)
    }
}
