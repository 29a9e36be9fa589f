import Foundation
import NIOCore
import NIOPosix
import ParleyKernel
import ParleyListeners
import ParleyStorage
import Synchronization
import XMPPAddress

/// What the admin socket answers. Commands: `s2s list`, `status`, `roster changed [JID]`,
/// `contacts add JID JID`, `user delete JID`. The last two do in the running server what the CLI
/// would otherwise do in the database alone, so online clients see it (as `ejabberdctl` commands).
struct AdminCommands: Sendable {
    let kernel: Kernel
    /// Makes two accounts mutual contacts with roster pushes and presence (the roster module's admin command).
    let makeMutualContacts: @Sendable (JID, JID) async throws -> Void
    let federation: S2SLinkManager?
    let connections: ConnectionTracker
    let rosterCache: SubscriptionCachingRosterStore?

    func handle(_ line: String) async -> String {
        if line == AdminClient.rostersChanged || line.hasPrefix(AdminClient.rostersChanged + " ") {
            return rosterChanged(String(line.dropFirst(AdminClient.rostersChanged.count)).trimmingCharacters(in: .whitespaces))
        }
        let words = line.split(separator: " ").map(String.init)
        if words.count == 4, words[0...1] == [AdminClient.addContacts[0], AdminClient.addContacts[1]] {
            return await addContacts(words[2], words[3])
        }
        if words.count == 3, words[0...1] == [AdminClient.deleteUser[0], AdminClient.deleteUser[1]] {
            return await deleteUser(words[2])
        }
        switch line {
        case "s2s list":
            let entries = federation?.registry.all ?? []
            return Self.json(entries)
        case "status":
            return Self.json(["sessions": kernel.sessions.count, "connections": connections.count,
                              "s2s_links": federation?.registry.all.count ?? 0])
        default:
            return Self.json(["error": "unknown command"])
        }
    }

    /// The CLI wrote to the roster of `address` (of every account when empty) in the database.
    private func rosterChanged(_ address: String) -> String {
        if address.isEmpty {
            rosterCache?.invalidate(nil)
        } else {
            guard let user = try? JID(address) else { return Self.json(["error": "not a JID: \(address)"]) }
            rosterCache?.invalidate(user)
        }
        return Self.json(["ok": true])
    }

    /// `parley user add-contact` with the server running: roster pushes to both users' interested
    /// resources, and each one's current presence to the other (RFC 6121 §2.1.6, §4.2.2).
    private func addContacts(_ first: String, _ second: String) async -> String {
        guard let a = try? JID(first), let b = try? JID(second), a.localpart != nil, b.localpart != nil,
              kernel.isLocal(a), kernel.isLocal(b) else {
            return Self.json(["error": "not local accounts: \(first) \(second)"])
        }
        guard a.bare != b.bare else { return Self.json(["error": "an account cannot be its own contact"]) }
        for user in [a, b] where !(await kernel.accountExists(user)) {
            return Self.json(["error": "\(user.bare) does not exist"])
        }
        do {
            try await makeMutualContacts(a.bare, b.bare)
        } catch {
            kernel.logger.error("admin socket: adding contacts failed", metadata: ["users": "\(a.bare) \(b.bare)", "error": "\(error)"])
            return Self.json(["error": "the roster could not be written: \(error)"])
        }
        kernel.logger.notice("admin socket: accounts made mutual contacts", metadata: ["users": "\(a.bare) \(b.bare)"])
        return Self.json(["ok": true])
    }

    /// `parley user delete` with the server running: the account's sessions are closed and its
    /// contacts told, as for XEP-0077 account removal, besides its data being removed.
    private func deleteUser(_ address: String) async -> String {
        guard let user = try? JID(address), user.localpart != nil, kernel.isLocal(user) else {
            return Self.json(["error": "not a local account: \(address)"])
        }
        do {
            let sessions = kernel.sessions.sessions(for: user.bare).count
            let removed = try await kernel.deleteAccount(user.bare)
            if removed {
                kernel.logger.notice("admin socket: account deleted", metadata: ["jid": "\(user.bare)", "sessions_closed": "\(sessions)"])
            }
            return Self.json(AdminDeletion(ok: true, removed: removed, sessions: removed ? sessions : 0))
        } catch {
            kernel.logger.error("admin socket: account deletion failed", metadata: ["jid": "\(user.bare)", "error": "\(error)"])
            return Self.json(["error": "the account could not be deleted: \(error)"])
        }
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// The client side of the admin socket, for `parley` commands.
public enum AdminClient {
    /// Tells the server that rosters changed in the database, so it reads them again.
    static let rostersChanged = "roster changed"
    /// `contacts add A B`: the server makes two accounts mutual contacts.
    static let addContacts = ["contacts", "add"]
    /// `user delete A`: the server deletes an account.
    static let deleteUser = ["user", "delete"]

    /// What a running server answered to a command it carried out.
    public enum Outcome: Sendable, Equatable {
        /// Done; for `user delete`, `removed` is false when there was no such account, and
        /// `sessions` is how many of its sessions were closed.
        case done(removed: Bool, sessions: Int)
        /// The server refused, with its reason.
        case refused(String)
    }

    /// Makes `a` and `b` mutual contacts in the running server; nil when no server answered (then
    /// the CLI writes to the database itself).
    public static func addContacts(_ a: JID, _ b: JID, dataDirectory: String) async -> Outcome? {
        await perform((addContacts + [a.bare.description, b.bare.description]).joined(separator: " "), dataDirectory: dataDirectory)
    }

    /// Deletes `user` in the running server; nil when no server answered.
    public static func deleteUser(_ user: JID, dataDirectory: String) async -> Outcome? {
        await perform((deleteUser + [user.bare.description]).joined(separator: " "), dataDirectory: dataDirectory)
    }

    private static func perform(_ command: String, dataDirectory: String) async -> Outcome? {
        guard let answer = try? await request(command, dataDirectory: dataDirectory),
              let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] else { return nil }
        if let reason = object["error"] as? String {
            // A server from before these commands answers "unknown command": do it in the database then.
            return reason == "unknown command" ? nil : .refused(reason)
        }
        return .done(removed: object["removed"] as? Bool ?? true, sessions: object["sessions"] as? Int ?? 0)
    }

    /// Tells a running server that the CLI changed these accounts' rosters (every account's when
    /// nil). Without a running server there is nothing to tell, and that is no failure.
    public static func reportRosterChanges(of users: [JID]?, dataDirectory: String) async {
        for command in users.map({ $0.map { "\(rostersChanged) \($0.bare)" } }) ?? [rostersChanged] {
            _ = try? await request(command, dataDirectory: dataDirectory)
        }
    }

    public static func socketPath(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("parley.sock")
    }

    /// Sends one command to the running server and returns its JSON answer. Fails when no answer
    /// came within `timeout` (a server that accepted but is stuck must not hang the CLI).
    public static func request(_ command: String, dataDirectory: String, timeout: TimeAmount = .seconds(5)) async throws -> String {
        let path = socketPath(dataDirectory: dataDirectory)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .connect(unixDomainSocketPath: path).get()
        let collector = ResponseCollector(promise: channel.eventLoop.makePromise())
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            // Completing a promise twice is ignored: an answer that came first stands.
            collector.promise.fail(AdminClientError.noAnswer(seconds: timeout.nanoseconds / 1_000_000_000))
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        try await channel.pipeline.addHandler(collector).get()
        try await channel.writeAndFlush(channel.allocator.buffer(string: command + "\n")).get()
        return try await collector.promise.futureResult.get()
    }
}

/// The answer to `user delete`.
private struct AdminDeletion: Encodable {
    let ok: Bool
    let removed: Bool
    let sessions: Int
}

public enum AdminClientError: Error, CustomStringConvertible {
    case noAnswer(seconds: Int64)

    public var description: String {
        switch self {
        case .noAnswer(let seconds): "the server did not answer within \(seconds) s"
        }
    }
}

private final class ResponseCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<String>
    private let received = Mutex<[UInt8]>([])

    init(promise: EventLoopPromise<String>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        received.withLock { $0 += bytes }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let text = received.withLock { String(decoding: $0, as: UTF8.self) }
        promise.succeed(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
