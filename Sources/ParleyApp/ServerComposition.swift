import Foundation
import Logging
import ParleyConfig
import ParleyIM
import ParleyKernel
import ParleySQLite
import ParleyStorage
import XMPPAddress

/// Every store of the embedded backend, sharing one SQLite database.
public struct SQLiteStores: Sendable {
    public let database: SQLiteDatabase
    public let accounts: SQLiteAccountStore
    public let rosters: SQLiteRosterStore
    public let offline: SQLiteOfflineStore
    public let blocklists: SQLiteBlocklistStore
    public let vcards: SQLiteVCardStore
    public let privateXML: SQLitePrivateXMLStore
    public let lastActivity: SQLiteLastActivityStore

    /// Opens (creating and migrating) `<data>/parley.sqlite`.
    public init(config: ServerConfig) throws {
        // Account keys, the admin socket and generated private keys live here: only the server's user gets in.
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let database = try SQLiteDatabase(path: (config.dataDirectory as NSString).appendingPathComponent("parley.sqlite"))
        self.database = database
        accounts = SQLiteAccountStore(database: database)
        rosters = SQLiteRosterStore(database: database)
        offline = SQLiteOfflineStore(database: database)
        blocklists = SQLiteBlocklistStore(database: database)
        vcards = SQLiteVCardStore(database: database)
        privateXML = SQLitePrivateXMLStore(database: database)
        lastActivity = SQLiteLastActivityStore(database: database)
    }
}

/// The kernel with every module, built from the configuration. Only this type names concrete modules.
public struct ServerComposition: Sendable {
    public let kernel: Kernel
    public let roster: RosterPresenceModule
    /// Nil when `modules_disabled` names it.
    public let caps: CapsModule?
    public let stores: SQLiteStores
    /// Recently read subscription lists, in front of `stores.rosters` for the modules; nil when
    /// `limits.roster_cache_size` is 0. Changes written to `stores.rosters` directly (by the CLI)
    /// must be reported to it (`invalidate`).
    public let rosterCache: SubscriptionCachingRosterStore?

    public init(config: ServerConfig, stores: SQLiteStores, logger: Logger) throws {
        let rosterCache = config.limits.rosterCacheSize > 0
            ? SubscriptionCachingRosterStore(backing: stores.rosters, capacity: config.limits.rosterCacheSize) : nil
        let rosters: any RosterStore = rosterCache ?? stores.rosters
        // Who may see an account's presence-related data (XEP-0012, XEP-0030): the account itself,
        // and contacts it shares its presence with (RFC 6121 subscription "from" or "both").
        let canSeePresence: @Sendable (JID, JID) async -> Bool = { requester, account in
            if requester.bare == account.bare { return true }
            guard let entry = try? await rosters.entry(of: account.bare, contact: requester.bare) else { return false }
            return entry.item?.subscription.hasFrom ?? false
        }
        let roster = RosterPresenceModule(store: rosters)
        let caps = CapsModule()
        let limits = config.limits
        var modules: [any Module] = [
            PingModule(),
            ClientPingModule(interval: .seconds(limits.clientPingInterval), timeout: .seconds(limits.clientPingTimeout)),
            roster,
            BlockingModule(store: stores.blocklists, maxItems: limits.maxBlocklistItems),
            StanzaIDModule(),
            CarbonsModule(),
            VCardModule(store: stores.vcards),
            PrivateXMLModule(store: stores.privateXML),
            DiscoModule(canSeePresence: canSeePresence),
            caps,
            SoftwareVersionModule(operatingSystem: config.serverInfo.showOperatingSystem ? SoftwareVersionModule.hostOperatingSystem : nil),
            EntityTimeModule(),
            LastActivityModule(store: stores.lastActivity, canSeePresence: canSeePresence),
            RegistrationModule(scramIterations: config.sasl.scramIterations),
        ]
        // Offline storage is off with a limit of 0, but messages stored before must still go with their account.
        let offline = OfflineModule(store: stores.offline, maxMessagesPerUser: max(limits.maxOfflineMessagesPerUser, 1))
        modules.append(offline)
        if !config.contactAddresses.isEmpty {
            modules.append(try ContactAddressesModule(addresses: config.contactAddresses))
        }
        assert(Set(modules.map(\.name)).isSubset(of: ServerConfig.requiredModules.union(ServerConfig.optionalModules.keys)),
               "every module must be named in ServerConfig.optionalModules or requiredModules")
        var disabled = config.disabledModules
        if limits.maxOfflineMessagesPerUser == 0 { disabled.insert(offline.name) }
        let dormant = modules.filter { disabled.contains($0.name) }
        modules.removeAll { disabled.contains($0.name) }
        self.kernel = Kernel(hosts: Set(config.hosts.map(\.name)), accounts: stores.accounts, modules: modules,
                             disabledModules: dormant, logger: logger)
        self.roster = roster
        self.caps = config.disabledModules.contains(caps.name) ? nil : caps
        self.stores = stores
        self.rosterCache = rosterCache
    }

    /// Makes two local accounts mutual contacts through the running kernel: roster pushes to their
    /// interested resources and each one's current presence to the other.
    @Sendable public func makeMutualContacts(_ a: JID, _ b: JID) async throws {
        try await roster.makeMutualContacts(a, b, kernel: kernel)
    }
}
