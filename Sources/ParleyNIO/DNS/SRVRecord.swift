/// One DNS SRV resource record (RFC 2782).
public struct SRVRecord: Sendable, Hashable {
    /// Lower is tried first (RFC 2782 "Priority").
    public var priority: UInt16
    /// Relative share among records of the same priority; 0 means "no load balancing" (RFC 2782 "Weight").
    public var weight: UInt16
    public var port: UInt16
    /// The target host name, without a trailing dot. `"."` (the root) means the service is decidedly
    /// not available at this domain (RFC 2782 "Target").
    public var target: String

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: String) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }

    /// Whether this record's target is the root, RFC 2782's "decidedly not available".
    public var isServiceUnavailableMarker: Bool {
        target == "." || target.isEmpty
    }
}
