import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPSASL

/// What operators do to accounts (the `parley user` commands), with the checks they need.
public struct AccountAdministration: Sendable {
    public let kernel: Kernel
    public let scramIterations: Int
    public var store: any AccountStore { kernel.accounts }
    public var hosts: Set<String> { kernel.hosts }

    /// `kernel` carries every module, so deleting an account also deletes what each feature keeps for it.
    public init(kernel: Kernel, scramIterations: Int) {
        self.kernel = kernel
        self.scramIterations = scramIterations
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case invalidAddress(String)
        case hostNotServed(String)
        case invalidPassword
        case alreadyExists(String)
        case noSuchUser(String)
        case invalidImportLine(Int, String)

        public var description: String {
            switch self {
            case .invalidAddress(let address): "'\(address)' is not a valid user address (expected user@host)"
            case .hostNotServed(let host): "this server does not serve '\(host)' (configured hosts are listed under 'hosts')"
            case .invalidPassword: "the password is empty or contains characters that are not allowed"
            case .alreadyExists(let jid): "\(jid) already exists"
            case .noSuchUser(let jid): "\(jid) does not exist"
            case .invalidImportLine(let line, let problem): "line \(line): \(problem)"
            }
        }
    }

    /// Parses `user@host` into a normalised bare JID on a served host.
    public func userJID(_ address: String) throws(Failure) -> JID {
        guard let jid = try? JID(address), jid.localpart != nil, jid.resourcepart == nil else {
            throw .invalidAddress(address)
        }
        guard hosts.contains(jid.domainpart) else { throw .hostNotServed(jid.domainpart) }
        return jid
    }

    public func credentials(for password: String) throws(Failure) -> [SCRAMCredential] {
        guard !password.isEmpty, let credentials = try? SCRAMCredential.generateAll(password: password, iterations: scramIterations) else {
            throw .invalidPassword
        }
        return credentials
    }

    public func add(_ address: String, password: String, now: Int64) async throws -> JID {
        let jid = try userJID(address)
        let record = AccountRecord(username: jid.localpart!, host: jid.domainpart, credentials: try credentials(for: password), createdAt: now)
        do {
            try await store.create(record)
        } catch AccountStoreError.alreadyExists {
            throw Failure.alreadyExists(jid.description)
        }
        return jid
    }

    public func changePassword(_ address: String, password: String) async throws {
        let jid = try userJID(address)
        do {
            try await store.setCredentials(username: jid.localpart!, host: jid.domainpart, credentials: try credentials(for: password))
        } catch AccountStoreError.notFound {
            throw Failure.noSuchUser(jid.description)
        }
    }

    public func delete(_ address: String) async throws {
        let jid = try userJID(address)
        guard try await kernel.deleteAccount(jid) else {
            throw Failure.noSuchUser(jid.description)
        }
    }

    public func list(host: String?) async throws -> [String] {
        var result: [String] = []
        for served in hosts.sorted() where host == nil || host == served {
            result += try await store.usernames(host: served).map { "\($0)@\(served)" }
        }
        return result
    }
}
