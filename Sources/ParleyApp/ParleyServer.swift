import Foundation
import Logging
import NIOCore
import NIOPosix
import ParleyConfig
import ParleyIM
import ParleyKernel
import ParleyListeners
import ParleyNIO
import ParleySQLite
import ParleyStorage
import ServiceLifecycle
import XMPPProtocol
import XMPPStream
import XMPPXML

/// The composition root: builds storage, certificates, the kernel with its modules, and the listeners.
public final class ParleyServer: Service {
    public let config: ServerConfig
    let logger: Logger

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Loads each host's certificate, generating a self-signed one on first run.
    func loadTLS() throws -> (contexts: TLSContexts, identities: [String: TLSIdentity]) {
        let store = CertificateStore(dataDirectory: config.dataDirectory)
        var identities: [String: TLSIdentity] = [:]
        for host in config.hosts {
            if let certificate = host.certificate, let key = host.privateKey {
                identities[host.name] = try CertificateStore.load(certificateChainPath: certificate, privateKeyPath: key)
                continue
            }
            let loaded = try store.loadOrGenerate(host: host.name)
            if loaded.wasGenerated {
                logger.notice("generated a self-signed certificate; clients will ask you to accept it", metadata: [
                    "host": "\(host.name)", "path": "\(loaded.certificatePath)", "sha256": "\(loaded.identity.fingerprintSHA256)"])
            } else {
                logger.info("using certificate", metadata: ["host": "\(host.name)", "path": "\(loaded.certificatePath)", "sha256": "\(loaded.identity.fingerprintSHA256)"])
            }
            identities[host.name] = loaded.identity
        }
        return (try TLSContexts(identities: identities, defaultHost: config.hosts.first?.name), identities)
    }

    public func run() async throws {
        let stores = try SQLiteStores(config: config)
        let (tls, identities) = try loadTLS()
        let hosts = Set(config.hosts.map(\.name))
        let composition = try ServerComposition(config: config, stores: stores, logger: logger)
        if !config.disabledModules.isEmpty {
            logger.notice("modules disabled by the configuration", metadata: ["modules": "\(config.disabledModules.sorted().joined(separator: ","))"])
        }
        let kernel = composition.kernel
        let limits = config.limits
        let c2sLimits = C2SLimits(
            beforeAuth: XMLStreamLimits(maxTokenBytes: limits.maxTagSize, maxElementBytes: limits.maxStanzaSizeBeforeAuth, maxDepth: limits.maxDepth),
            afterAuth: XMLStreamLimits(maxTokenBytes: limits.maxTagSize, maxElementBytes: limits.maxStanzaSize, maxDepth: limits.maxDepth),
            unauthenticatedTimeout: limits.unauthenticatedTimeout, idleTimeout: limits.idleTimeout,
            maxOutboundQueue: limits.maxOutboundQueue)
        let connections = ConnectionTracker(maxConnections: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerAddress)
        let server = C2SServerContext(
            kernel: kernel, accounts: stores.accounts, tls: tls,
            configuration: C2SConfiguration(hosts: hosts, defaultHost: config.hosts.first?.name, tlsAvailable: true,
                                            tlsRequired: config.tls.requireForC2S, plainAllowed: config.tls.allowPlainAuth,
                                            maxAuthAttempts: limits.authAttemptsPerConnection,
                                            scramIterations: config.sasl.scramIterations,
                                            registrationHosts: Set(config.hosts.filter(\.allowRegistration).map(\.name)),
                                            extraFeaturesAfterAuth: kernel.streamFeatures + (composition.caps.map { [$0.streamFeature(for: kernel)] } ?? [])),
            limits: c2sLimits,
            authFailures: AddressRateLimiter(limit: limits.authFailuresPerAddressPerMinute),
            registrations: AddressRateLimiter(limit: limits.registrationsPerAddressPerHour, windowSeconds: 3600),
            connections: connections, logger: logger)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: UsableCores.count)
        var channels: [any Channel] = []
        do {
            if let c2s = config.listeners.c2s {
                channels.append(try await C2SListener.bind(group: group, address: c2s.address, port: c2s.port, directTLS: false, server: server))
                logger.notice("listening for clients (STARTTLS)", metadata: ["address": "\(c2s.address)", "port": "\(c2s.port)"])
            }
            if let direct = config.listeners.c2sDirectTLS {
                channels.append(try await C2SListener.bind(group: group, address: direct.address, port: direct.port, directTLS: true, server: server))
                logger.notice("listening for clients (direct TLS)", metadata: ["address": "\(direct.address)", "port": "\(direct.port)"])
            }
        } catch {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        var federation: S2SLinkManager?
        do {
            if config.s2s.enabled {
                let links = try makeFederation(kernel: kernel, identities: identities, group: group)
                federation = links
                if let s2s = config.listeners.s2s {
                    channels.append(try await S2SListener.bind(group: group, address: s2s.address, port: s2s.port, links: links))
                    logger.notice("listening for servers (s2s)", metadata: ["address": "\(s2s.address)", "port": "\(s2s.port)"])
                }
                if let direct = config.listeners.s2sDirectTLS {
                    let contexts = try TLSContexts(identities: identities, defaultHost: config.hosts.first?.name,
                                                   applicationProtocols: [TLSContexts.xmppServerALPN]) { _, tls in
                        configureS2SPeerCertificateRequest(&tls)
                    }
                    channels.append(try await S2SListener.bind(group: group, address: direct.address, port: direct.port,
                                                               links: links, directTLS: contexts))
                    logger.notice("listening for servers (s2s direct TLS)", metadata: ["address": "\(direct.address)", "port": "\(direct.port)"])
                }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        let admin = AdminCommands(kernel: kernel, makeMutualContacts: composition.makeMutualContacts, federation: federation,
                                  connections: connections, rosterCache: composition.rosterCache)
        do {
            channels.append(try await AdminSocket.bind(group: group, path: AdminClient.socketPath(dataDirectory: config.dataDirectory),
                                                       logger: logger, handle: admin.handle))
        } catch {
            logger.warning("no admin socket; `parley s2s list` will not reach this server", metadata: ["error": "\(error)"])
        }
        logger.notice("parley is ready", metadata: ["hosts": "\(hosts.sorted().joined(separator: ","))"])

        // Serve until SIGTERM/SIGINT (ServiceGroup turns them into a graceful shutdown).
        try? await gracefulShutdown()
        logger.notice("shutting down", metadata: ["connections": "\(connections.count)"])
        for channel in channels { try? await channel.close() }
        connections.terminateAll(StreamError(.systemShutdown, text: "the server is shutting down"))
        federation?.closeAll()
        // Let the closing tags reach the clients.
        for _ in 0..<20 where connections.count > 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await group.shutdownGracefully()
        try? stores.database.close()
        logger.notice("stopped")
    }
}
