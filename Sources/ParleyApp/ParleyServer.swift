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
    private let logger: Logger

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    public static func databasePath(_ config: ServerConfig) -> String {
        (config.dataDirectory as NSString).appendingPathComponent("parley.sqlite")
    }

    /// Opens the default embedded store (SQLite in the data directory).
    public static func openAccountStore(_ config: ServerConfig) throws -> SQLiteAccountStore {
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        return SQLiteAccountStore(database: try SQLiteDatabase(path: databasePath(config)))
    }

    /// Loads each host's certificate, generating a self-signed one on first run.
    func loadTLS() throws -> TLSContexts {
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
        return try TLSContexts(identities: identities, defaultHost: config.hosts.first?.name)
    }

    public func run() async throws {
        let accounts = try Self.openAccountStore(config)
        let tls = try loadTLS()
        let hosts = Set(config.hosts.map(\.name))
        let kernel = Kernel(hosts: hosts, accounts: accounts, modules: [PingModule()], logger: logger)
        let limits = config.limits
        let c2sLimits = C2SLimits(
            beforeAuth: XMLStreamLimits(maxTokenBytes: limits.maxTagSize, maxElementBytes: limits.maxStanzaSizeBeforeAuth, maxDepth: limits.maxDepth),
            afterAuth: XMLStreamLimits(maxTokenBytes: limits.maxTagSize, maxElementBytes: limits.maxStanzaSize, maxDepth: limits.maxDepth),
            unauthenticatedTimeout: limits.unauthenticatedTimeout, idleTimeout: limits.idleTimeout)
        let connections = ConnectionTracker(maxConnections: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerAddress)
        let server = C2SServerContext(
            kernel: kernel, accounts: accounts, tls: tls,
            configuration: C2SConfiguration(hosts: hosts, defaultHost: config.hosts.first?.name, tlsAvailable: true,
                                            tlsRequired: config.tls.requireForC2S, plainAllowed: config.tls.allowPlainAuth,
                                            maxAuthAttempts: limits.authAttemptsPerConnection,
                                            scramIterations: config.sasl.scramIterations,
                                            extraFeaturesAfterAuth: kernel.streamFeatures),
            limits: c2sLimits,
            authFailures: AddressRateLimiter(limit: limits.authFailuresPerAddressPerMinute),
            connections: connections, logger: logger)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
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
        logger.notice("parley is ready", metadata: ["hosts": "\(hosts.sorted().joined(separator: ","))"])

        // Serve until SIGTERM/SIGINT (ServiceGroup turns them into a graceful shutdown).
        try? await gracefulShutdown()
        logger.notice("shutting down", metadata: ["connections": "\(connections.count)"])
        for channel in channels { try? await channel.close() }
        connections.terminateAll(StreamError(.systemShutdown, text: "the server is shutting down"))
        // Let the closing tags reach the clients.
        for _ in 0..<20 where connections.count > 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await group.shutdownGracefully()
        logger.notice("stopped")
    }
}
