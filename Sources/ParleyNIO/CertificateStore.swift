import Foundation
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds, or makes on first run, the certificate each host presents.
///
/// Layout: `<dataDirectory>/certs/<host>.crt` (PEM chain, leaf first) and
/// `<dataDirectory>/certs/<host>.key` (PEM private key, mode 0600). Host names are lower-cased
/// for the file names (JID domains are case-insensitive, RFC 7622 §3.2).
///
/// Typical start-up, for each served host:
/// ```swift
/// let store = CertificateStore(dataDirectory: config.dataDirectory)
/// let loaded = try store.loadOrGenerate(host: "example.org")
/// if loaded.wasGenerated {
///     logger.notice("generated self-signed certificate for example.org",
///                   metadata: ["sha256": "\(loaded.identity.fingerprintSHA256)", "path": "\(loaded.certificatePath)"])
/// }
/// ```
/// Hosts configured with their own files use ``load(certificateChainPath:privateKeyPath:)``
/// instead. The resulting identities go into ``TLSContexts``.
public struct CertificateStore: Sendable {
    /// What ``loadOrGenerate(host:additionalNames:now:)`` found or made.
    public struct Loaded: Sendable {
        public let identity: TLSIdentity
        /// True when no files existed and a self-signed pair was written just now.
        public let wasGenerated: Bool
        public let certificatePath: String
        public let keyPath: String
    }

    /// The server's data directory; certificates live in its `certs` subdirectory.
    public let dataDirectory: String

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// `<dataDirectory>/certs`.
    public var certificatesDirectory: String {
        (dataDirectory as NSString).appendingPathComponent("certs")
    }

    /// `<dataDirectory>/certs/<host>.crt`.
    public func certificatePath(forHost host: String) throws -> String {
        (certificatesDirectory as NSString).appendingPathComponent(try Self.fileStem(forHost: host) + ".crt")
    }

    /// `<dataDirectory>/certs/<host>.key`.
    public func keyPath(forHost host: String) throws -> String {
        (certificatesDirectory as NSString).appendingPathComponent(try Self.fileStem(forHost: host) + ".key")
    }

    /// Loads `<host>.crt` and `<host>.key` if both exist; if neither exists, generates a self-signed
    /// certificate for `host` (see ``makeSelfSigned(host:additionalNames:now:)``), writes both files
    /// (the key with mode 0600) and returns it.
    ///
    /// - Parameters:
    ///   - additionalNames: extra DNS names for the generated certificate, for example the
    ///     host's components (`conference.example.org`). Ignored when the files already exist.
    ///   - now: the clock, injectable for tests.
    /// - Throws: ``CertificateStoreError/incompletePair(existing:missing:)`` when only one of the
    ///   two files exists, and other ``CertificateStoreError`` cases for unreadable or invalid files.
    public func loadOrGenerate(host: String, additionalNames: [String] = [], now: Date = Date()) throws -> Loaded {
        let certPath = try certificatePath(forHost: host)
        let keyPath = try keyPath(forHost: host)
        let files = FileManager.default
        switch (files.fileExists(atPath: certPath), files.fileExists(atPath: keyPath)) {
        case (true, true):
            let identity = try Self.load(certificateChainPath: certPath, privateKeyPath: keyPath)
            return Loaded(identity: identity, wasGenerated: false, certificatePath: certPath, keyPath: keyPath)
        case (true, false):
            throw CertificateStoreError.incompletePair(existing: certPath, missing: keyPath)
        case (false, true):
            throw CertificateStoreError.incompletePair(existing: keyPath, missing: certPath)
        case (false, false):
            break
        }

        let pem = try Self.makeSelfSigned(host: host.lowercased(), additionalNames: additionalNames, now: now)
        do {
            try files.createDirectory(
                atPath: certificatesDirectory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw CertificateStoreError.fileSystem(path: certificatesDirectory, reason: "\(error)")
        }
        // Key first: a crash in between leaves only the key, which the next start reports
        // (incompletePair) instead of serving a certificate without its key.
        try Self.writeFileAtomically(Array(pem.privateKeyPEM.utf8), to: keyPath, mode: 0o600)
        try Self.writeFileAtomically(Array(pem.certificatePEM.utf8), to: certPath, mode: 0o644)

        let identity = try Self.identity(
            certificatePEM: Array(pem.certificatePEM.utf8),
            keyPEM: Array(pem.privateKeyPEM.utf8),
            path: certPath
        )
        return Loaded(identity: identity, wasGenerated: true, certificatePath: certPath, keyPath: keyPath)
    }

    /// Loads an operator-supplied PEM chain (leaf first, then intermediates) and PEM private key.
    public static func load(certificateChainPath: String, privateKeyPath: String) throws -> TLSIdentity {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateChainPath)
        } catch {
            throw CertificateStoreError.invalidMaterial(path: certificateChainPath, reason: "\(error)")
        }
        guard !chain.isEmpty else {
            throw CertificateStoreError.emptyCertificateChain(path: certificateChainPath)
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw CertificateStoreError.invalidMaterial(path: privateKeyPath, reason: "\(error)")
        }
        return try TLSIdentity(certificateChain: chain, privateKey: key)
    }

    /// Builds an identity from PEM bytes held in memory.
    public static func identity(certificatePEM: [UInt8], keyPEM: [UInt8], path: String? = nil) throws -> TLSIdentity {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(certificatePEM)
            guard !chain.isEmpty else { throw CertificateStoreError.emptyCertificateChain(path: path) }
            let key = try NIOSSLPrivateKey(bytes: keyPEM, format: .pem)
            return try TLSIdentity(certificateChain: chain, privateKey: key)
        } catch let error as CertificateStoreError {
            throw error
        } catch {
            throw CertificateStoreError.invalidMaterial(path: path, reason: "\(error)")
        }
    }

    // MARK: - Files

    /// The host as a file-name stem. Hosts come from configuration, but a name like `../x`
    /// must still not escape the certificates directory.
    static func fileStem(forHost host: String) throws -> String {
        let stem = host.lowercased()
        guard !stem.isEmpty, !stem.hasPrefix("."), !stem.contains("/"), !stem.contains("\0") else {
            throw CertificateStoreError.invalidHostName(host)
        }
        return stem
    }

    /// Writes to a fresh temporary file created with `mode` (so a key is never readable by
    /// others, not even briefly), syncs it, then renames it over `path`.
    static func writeFileAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws {
        let temporary = path + ".tmp-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw CertificateStoreError.fileSystem(path: temporary, reason: String(cString: strerror(errno)))
        }
        var failure: String?
        // The umask may have removed bits; it can only have removed them, but set the mode
        // exactly so the result does not depend on the environment.
        if fchmod(fd, mode) != 0 { failure = String(cString: strerror(errno)) }
        var offset = 0
        while failure == nil, offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
            } else {
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw CertificateStoreError.fileSystem(path: path, reason: failure)
        }
    }
}
