// The validated configuration of a Parley server.
//
// Values are produced by `ServerConfig.load(path:)` / `ServerConfig.parse(yaml:baseDirectory:)`
// (see ConfigLoader.swift) or built directly in code. Every public initialiser parameter defaults to
// the value used when the corresponding key is absent from the configuration file.

/// The whole server configuration (the root mapping of the YAML file).
public struct ServerConfig: Sendable, Equatable {
    /// The XMPP domains served (key `hosts`). Never empty after loading; names are lowercased.
    public var hosts: [HostConfig]
    /// Where the server keeps its persistent data (key `data_directory`). When loaded from a file this
    /// is an absolute path (relative values are resolved against the file's directory; default `./data`).
    public var dataDirectory: String
    /// Network listeners (key `listeners`).
    public var listeners: ListenersConfig
    /// TLS policy (key `tls`).
    public var tls: TLSConfig
    /// Resource limits (key `limits`).
    public var limits: LimitsConfig
    /// Logging (key `logging`).
    public var logging: LoggingConfig
    /// SASL settings (key `sasl`).
    public var sasl: SASLConfig
    /// Contact addresses published in the server's disco#info, XEP-0157 (key `contact_addresses`).
    /// Keyed by the XEP's field names (`admin-addresses`, `abuse-addresses`, …, see
    /// `ServerConfig.contactAddressFields`); each value is a non-empty list of URIs (`mailto:…`,
    /// `xmpp:…`, `https://…`) in the order given. Kinds without addresses are absent. Default: empty.
    public var contactAddresses: [String: [String]]
    /// What the server reveals about itself (key `server_info`).
    public var serverInfo: ServerInfoConfig
    /// Federation with other XMPP servers (key `s2s`).
    public var s2s: S2SConfig
    /// Feature modules left out (key `modules_disabled`, a list of names from
    /// `ServerConfig.optionalModules`), default none. A disabled module registers nothing: its
    /// features are not advertised and its requests get the answer of a server without it.
    public var disabledModules: Set<String>

    /// The hosts used when the key `hosts` is absent: just `localhost`.
    public static let defaultHosts: [HostConfig] = [HostConfig(name: "localhost")]
    /// The value of `data_directory` when the key is absent, before resolution against the base directory.
    public static let defaultDataDirectory = "./data"
    /// The keys accepted under `contact_addresses` and the XEP-0157 form field each one fills, in the
    /// XEP's (alphabetical) order: `abuse` → `abuse-addresses`, `admin` → `admin-addresses`, ….
    public static let contactAddressFields: [(key: String, field: String)] = [
        "abuse", "admin", "feedback", "sales", "security", "status", "support",
    ].map { (key: $0, field: $0 + "-addresses") }

    public init(
        hosts: [HostConfig] = ServerConfig.defaultHosts,
        dataDirectory: String,
        listeners: ListenersConfig = ListenersConfig(),
        tls: TLSConfig = TLSConfig(),
        limits: LimitsConfig = LimitsConfig(),
        logging: LoggingConfig = LoggingConfig(),
        sasl: SASLConfig = SASLConfig(),
        contactAddresses: [String: [String]] = [:],
        serverInfo: ServerInfoConfig = ServerInfoConfig(),
        s2s: S2SConfig = S2SConfig(),
        disabledModules: Set<String> = []
    ) {
        self.hosts = hosts
        self.dataDirectory = dataDirectory
        self.listeners = listeners
        self.tls = tls
        self.limits = limits
        self.logging = logging
        self.sasl = sasl
        self.contactAddresses = contactAddresses
        self.serverInfo = serverInfo
        self.s2s = s2s
        self.disabledModules = disabledModules
    }

    /// The configuration used when no configuration file is given: every setting at its default, with
    /// the given data directory (used as is, not resolved).
    public static func `default`(dataDirectory: String) -> ServerConfig {
        ServerConfig(dataDirectory: dataDirectory)
    }

    /// The modules `modules_disabled` may name, each with what it serves. The server composition
    /// builds exactly these (when their other settings call for them) plus `requiredModules`.
    public static let optionalModules: [String: String] = [
        "blocking": "XEP-0191 blocking command",
        "caps": "XEP-0115 entity capabilities of the server",
        "carbons": "XEP-0280 message carbons",
        "client-ping": "XEP-0199 pings the server sends to quiet clients",
        "contact-addresses": "XEP-0157 contact addresses",
        "entity-time": "XEP-0202 entity time",
        "last-activity": "XEP-0012 last activity",
        "offline": "XEP-0160 offline message storage",
        "ping": "XEP-0199 answers to pings",
        "private-xml": "XEP-0049 private XML storage",
        "register": "XEP-0077 password change and account removal by logged-in users",
        "software-version": "XEP-0092 software version",
        "stanza-id": "XEP-0359 stanza IDs stamped on delivered messages",
        "vcard": "XEP-0054 vcard-temp",
    ]
    /// Modules the server cannot run without: the roster and presence of RFC 6121, and service
    /// discovery (XEP-0030), through which every other module is found.
    public static let requiredModules: Set<String> = ["roster", "disco"]
}

/// One served XMPP domain (an item of `hosts`). In YAML either a plain string (`- example.org`) or a
/// mapping with keys `name`, `certificate`, `private_key`, `allow_registration`. A plain string gets
/// every other setting at its default.
public struct HostConfig: Sendable, Equatable {
    /// The domain name, lowercased (key `name`).
    public var name: String
    /// Path of the PEM certificate chain for this host (key `certificate`); absolute after loading.
    public var certificate: String?
    /// Path of the PEM private key for this host (key `private_key`); absolute after loading.
    /// Always set exactly when `certificate` is set.
    public var privateKey: String?
    /// Whether clients may create accounts on this host with XEP-0077 in-band registration
    /// (key `allow_registration`), default `false`.
    public var allowRegistration: Bool

    public init(name: String, certificate: String? = nil, privateKey: String? = nil, allowRegistration: Bool = false) {
        self.name = name
        self.certificate = certificate
        self.privateKey = privateKey
        self.allowRegistration = allowRegistration
    }
}

/// The network listeners (key `listeners`). A `nil` listener is disabled. In YAML each listener is a
/// mapping with `address` and `port`, `true` for its default, or `false`/null to disable it. After
/// loading, no two listeners that are opened share a port on overlapping addresses.
public struct ListenersConfig: Sendable, Equatable {
    /// Client-to-server with STARTTLS (key `c2s`), default `0.0.0.0:5222`.
    public var c2s: ListenerConfig?
    /// Client-to-server with TLS from the first byte, XEP-0368 (key `c2s_direct_tls`), default `0.0.0.0:5223`.
    public var c2sDirectTLS: ListenerConfig?
    /// Server-to-server with STARTTLS (key `s2s`), default `0.0.0.0:5269`. Not opened when
    /// `S2SConfig.enabled` is false (and then not checked for port clashes either).
    public var s2s: ListenerConfig?
    /// Server-to-server with TLS from the first byte, XEP-0368 (key `s2s_direct_tls`), default disabled;
    /// `true` gives `0.0.0.0:5270`. Not opened when `S2SConfig.enabled` is false.
    public var s2sDirectTLS: ListenerConfig?

    public init(
        c2s: ListenerConfig? = ListenerConfig.defaultC2S,
        c2sDirectTLS: ListenerConfig? = ListenerConfig.defaultC2SDirectTLS,
        s2s: ListenerConfig? = ListenerConfig.defaultS2S,
        s2sDirectTLS: ListenerConfig? = nil
    ) {
        self.c2s = c2s
        self.c2sDirectTLS = c2sDirectTLS
        self.s2s = s2s
        self.s2sDirectTLS = s2sDirectTLS
    }
}

/// One listening socket.
public struct ListenerConfig: Sendable, Equatable {
    /// The address to bind (key `address`), default `0.0.0.0` (all IPv4 interfaces).
    public var address: String
    /// The TCP port (key `port`), 1...65535.
    public var port: Int

    /// The address used when a listener's `address` key is absent.
    public static let defaultAddress = "0.0.0.0"
    /// The default `c2s` listener: `0.0.0.0:5222`.
    public static let defaultC2S = ListenerConfig(address: defaultAddress, port: 5222)
    /// The default `c2s_direct_tls` listener: `0.0.0.0:5223`.
    public static let defaultC2SDirectTLS = ListenerConfig(address: defaultAddress, port: 5223)
    /// The default `s2s` listener: `0.0.0.0:5269`.
    public static let defaultS2S = ListenerConfig(address: defaultAddress, port: 5269)
    /// The `s2s_direct_tls` listener given by `true` (the key is disabled by default): `0.0.0.0:5270`.
    public static let defaultS2SDirectTLS = ListenerConfig(address: defaultAddress, port: 5270)

    public init(address: String = ListenerConfig.defaultAddress, port: Int) {
        self.address = address
        self.port = port
    }
}

/// TLS policy (key `tls`).
public struct TLSConfig: Sendable, Equatable {
    /// Clients must complete STARTTLS before authenticating (key `require_c2s`), default `true`.
    public var requireForC2S: Bool
    /// Offer SASL PLAIN (key `allow_plain`), default `true`. PLAIN is only ever offered over TLS.
    public var allowPlainAuth: Bool

    public init(requireForC2S: Bool = true, allowPlainAuth: Bool = true) {
        self.requireForC2S = requireForC2S
        self.allowPlainAuth = allowPlainAuth
    }
}

/// Resource limits (key `limits`).
public struct LimitsConfig: Sendable, Equatable {
    /// Largest stanza in bytes before authentication (key `stanza_size_before_auth`), default 65536.
    public var maxStanzaSizeBeforeAuth: Int
    /// Largest stanza in bytes after authentication (key `stanza_size`), default 262144.
    public var maxStanzaSize: Int
    /// Largest single XML tag in bytes (key `tag_size`), default 16384.
    public var maxTagSize: Int
    /// Deepest element nesting inside the stream (key `stream_depth`), default 64.
    public var maxDepth: Int
    /// SASL attempts allowed on one connection before it is closed (key `auth_attempts_per_connection`), default 3.
    public var authAttemptsPerConnection: Int
    /// Failed authentications per client IP address per minute (key `auth_failures_per_address_per_minute`), default 20.
    public var authFailuresPerAddressPerMinute: Int
    /// Seconds a connection may take to authenticate (key `unauthenticated_timeout`), default 30.
    public var unauthenticatedTimeout: Double
    /// Seconds without traffic before an authenticated connection is closed (key `idle_timeout`), default 600.
    public var idleTimeout: Double
    /// Open client connections in total (key `max_connections`), default 20000.
    public var maxConnections: Int
    /// Open client connections per IP address (key `max_connections_per_address`), default 0 = unlimited.
    public var maxConnectionsPerAddress: Int
    /// Accounts created by in-band registration (XEP-0077) per client IP address per hour
    /// (key `registrations_per_address_per_hour`), default 5, at least 1.
    public var registrationsPerAddressPerHour: Int
    /// Offline messages stored per account (key `offline_messages_per_user`), default 1000;
    /// 0 disables offline storage.
    public var maxOfflineMessagesPerUser: Int
    /// Items in one account's blocklist, XEP-0191 (key `blocklist_items`), default 1000, at least 1.
    public var maxBlocklistItems: Int
    /// Seconds between server-to-client pings, XEP-0199 (key `client_ping_interval`), default 300.
    public var clientPingInterval: Double
    /// Seconds a client has to answer a ping before its connection is closed (key `client_ping_timeout`),
    /// default 60.
    public var clientPingTimeout: Double
    /// Stanzas queued for a client that does not read before it is disconnected (key `outbound_queue`),
    /// default 10000, at least 1.
    public var maxOutboundQueue: Int
    /// Users whose roster subscriptions are kept in memory, the most recently read ones: online
    /// users, and offline users that were probed (key `roster_cache_size`), default 4096 (1.5 to
    /// 3 KB each with 20 contacts); 0 reads the database for every presence broadcast and probe.
    public var rosterCacheSize: Int

    public init(
        maxStanzaSizeBeforeAuth: Int = 65_536,
        maxStanzaSize: Int = 262_144,
        maxTagSize: Int = 16_384,
        maxDepth: Int = 64,
        authAttemptsPerConnection: Int = 3,
        authFailuresPerAddressPerMinute: Int = 20,
        unauthenticatedTimeout: Double = 30,
        idleTimeout: Double = 600,
        maxConnections: Int = 20_000,
        maxConnectionsPerAddress: Int = 0,
        registrationsPerAddressPerHour: Int = 5,
        maxOfflineMessagesPerUser: Int = 1000,
        maxBlocklistItems: Int = 1000,
        clientPingInterval: Double = 300,
        clientPingTimeout: Double = 60,
        maxOutboundQueue: Int = 10_000,
        rosterCacheSize: Int = 4096
    ) {
        self.maxStanzaSizeBeforeAuth = maxStanzaSizeBeforeAuth
        self.maxStanzaSize = maxStanzaSize
        self.maxTagSize = maxTagSize
        self.maxDepth = maxDepth
        self.authAttemptsPerConnection = authAttemptsPerConnection
        self.authFailuresPerAddressPerMinute = authFailuresPerAddressPerMinute
        self.unauthenticatedTimeout = unauthenticatedTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.registrationsPerAddressPerHour = registrationsPerAddressPerHour
        self.maxOfflineMessagesPerUser = maxOfflineMessagesPerUser
        self.maxBlocklistItems = maxBlocklistItems
        self.clientPingInterval = clientPingInterval
        self.clientPingTimeout = clientPingTimeout
        self.maxOutboundQueue = maxOutboundQueue
        self.rosterCacheSize = rosterCacheSize
    }
}

/// Logging (key `logging`).
public struct LoggingConfig: Sendable, Equatable {
    /// The minimum level logged (key `level`), one of `LoggingConfig.levels`; default `info`. Lowercase.
    public var level: String

    /// The accepted levels, most verbose first (the same names as swift-log's `Logger.Level`).
    public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public init(level: String = "info") {
        self.level = level
    }
}

/// SASL settings (key `sasl`).
public struct SASLConfig: Sendable, Equatable {
    /// PBKDF2 iteration count used when storing new SCRAM credentials (key `scram_iterations`),
    /// default 10000, at least 4096 (RFC 7677).
    public var scramIterations: Int

    /// The smallest accepted `scram_iterations`.
    public static let minimumScramIterations = 4096
    /// The largest accepted `scram_iterations` (beyond this a single login costs seconds of CPU).
    public static let maximumScramIterations = 10_000_000

    public init(scramIterations: Int = 10_000) {
        self.scramIterations = scramIterations
    }
}

/// What the server reveals about itself (key `server_info`).
public struct ServerInfoConfig: Sendable, Equatable {
    /// Whether software version replies (XEP-0092) include the operating system (key `show_os`),
    /// default `false`: the name and version of Parley are given, the OS is not.
    public var showOperatingSystem: Bool

    public init(showOperatingSystem: Bool = false) {
        self.showOperatingSystem = showOperatingSystem
    }
}

/// Federation with other XMPP servers, RFC 6120 server-to-server streams (key `s2s`). The listeners
/// for incoming links are `ListenersConfig.s2s` and `ListenersConfig.s2sDirectTLS`.
public struct S2SConfig: Sendable, Equatable {
    /// Whether federation is on (key `enabled`), default `true`. When off, no server-to-server
    /// listener is opened and stanzas to remote domains get `remote-server-not-found`.
    public var enabled: Bool
    /// How remote servers are authenticated unless `domainPolicies` says otherwise (key `policy`),
    /// default `.allowDialback`.
    public var policy: S2SPolicy
    /// Per-domain exceptions to `policy` (key `domain_policies`), keyed by lowercased domain name;
    /// default empty. Use `policy(for:)` to look a domain up.
    public var domainPolicies: [String: S2SPolicy]
    /// PEM file of the certificate authorities trusted for remote servers' certificates (key `ca_file`);
    /// absolute after loading. Default `nil`: the system store, `S2SConfig.systemCAFile`.
    public var caFile: String?
    /// Server-to-server streams must be encrypted with TLS, in both directions (key `require_tls`),
    /// default `true`.
    public var requireTLS: Bool
    /// Seconds allowed for connecting to one remote endpoint (key `connect_timeout`), default 10.
    public var connectTimeout: Double
    /// Seconds stanzas may wait for a link to a remote domain to be set up before they bounce with
    /// `remote-server-timeout` (key `timeout`), default 30.
    public var timeout: Double
    /// Seconds an unused link is kept open before it is closed (key `idle_timeout`), default 300.
    public var idleTimeout: Double
    /// Stanzas queued per remote domain while its link is being set up (key `max_queued_stanzas`),
    /// default 1000, at least 1.
    public var maxQueuedStanzas: Int
    /// Connections open at once with one remote domain (key `max_connections_per_domain`), default 4,
    /// at least 1.
    public var maxConnectionsPerDomain: Int
    /// Largest stanza in bytes accepted from a remote server (key `stanza_size`), default 262144.
    public var maxStanzaSize: Int
    /// Where to connect for particular remote domains instead of looking them up in DNS (key
    /// `overrides`), keyed by lowercased domain name; each list is non-empty, in the order given.
    /// Default empty.
    public var overrides: [String: [S2SEndpointConfig]]

    /// The trusted certificate authorities used when `caFile` is `nil`.
    public static let systemCAFile = "/etc/ssl/certs/ca-certificates.crt"

    public init(
        enabled: Bool = true,
        policy: S2SPolicy = .allowDialback,
        domainPolicies: [String: S2SPolicy] = [:],
        caFile: String? = nil,
        requireTLS: Bool = true,
        connectTimeout: Double = 10,
        timeout: Double = 30,
        idleTimeout: Double = 300,
        maxQueuedStanzas: Int = 1000,
        maxConnectionsPerDomain: Int = 4,
        maxStanzaSize: Int = 262_144,
        overrides: [String: [S2SEndpointConfig]] = [:]
    ) {
        self.enabled = enabled
        self.policy = policy
        self.domainPolicies = domainPolicies
        self.caFile = caFile
        self.requireTLS = requireTLS
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.maxQueuedStanzas = maxQueuedStanzas
        self.maxConnectionsPerDomain = maxConnectionsPerDomain
        self.maxStanzaSize = maxStanzaSize
        self.overrides = overrides
    }

    /// The policy for a remote domain: its entry in `domainPolicies` (compared case-insensitively),
    /// else `policy`.
    public func policy(for domain: String) -> S2SPolicy {
        domainPolicies[domain.lowercased()] ?? policy
    }

    /// The CA file to load: `caFile`, or the system store when it is `nil`.
    public var effectiveCAFile: String {
        caFile ?? Self.systemCAFile
    }
}

/// How a remote server must prove it is entitled to its domain (values of `s2s.policy` and of
/// `s2s.domain_policies`). The raw values are the YAML spellings.
public enum S2SPolicy: String, Sendable, Equatable, CaseIterable {
    /// A certificate valid for the domain is used when offered (SASL EXTERNAL); otherwise Server
    /// Dialback, XEP-0220, is accepted (`allow_dialback`).
    case allowDialback = "allow_dialback"
    /// The remote server must present a certificate valid for the domain; no dialback
    /// (`require_valid_certificate`).
    case requireValidCertificate = "require_valid_certificate"
}

/// One place to connect to for a remote domain (an item of `s2s.overrides`). In YAML either a mapping
/// with keys `host`, `port` and `direct_tls`, or the shorthand string `"host:port"` (port optional,
/// IPv6 addresses in brackets: `"[2001:db8::1]:5269"`) for a STARTTLS endpoint.
public struct S2SEndpointConfig: Sendable, Equatable {
    /// Host name or IP address to connect to (key `host`); IPv6 addresses without brackets. Never
    /// empty and without whitespace.
    public var host: String
    /// The TCP port (key `port`), 1...65535, default 5269.
    public var port: Int
    /// TLS from the first byte, XEP-0368, instead of STARTTLS (key `direct_tls`), default `false`.
    public var directTLS: Bool

    /// The port used when an endpoint gives none.
    public static let defaultPort = 5269

    public init(host: String, port: Int = S2SEndpointConfig.defaultPort, directTLS: Bool = false) {
        self.host = host
        self.port = port
        self.directTLS = directTLS
    }
}

/// Everything wrong with a configuration, reported at once.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One line per problem, usually `"key.path: message"`, e.g.
    /// `listeners.c2s.port: expected an integer between 1 and 65535, got "abc"`.
    /// YAML syntax errors read `line L, column C: invalid YAML: …`.
    public var problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    /// The problems, one per line.
    public var description: String {
        problems.joined(separator: "\n")
    }
}
