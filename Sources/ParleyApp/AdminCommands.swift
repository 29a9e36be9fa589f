import Foundation
import NIOCore
import NIOPosix
import ParleyKernel
import ParleyListeners
import ParleyStorage
import Synchronization
import XMPPAddress

/// What the admin socket answers. Commands: `s2s list`, `status`, `roster changed [JID]`.
struct AdminCommands: Sendable {
    let kernel: Kernel
    let federation: S2SLinkManager?
    let connections: ConnectionTracker
    let rosterCache: SubscriptionCachingRosterStore?

    func handle(_ line: String) async -> String {
        if line == AdminClient.rostersChanged || line.hasPrefix(AdminClient.rostersChanged + " ") {
            return rosterChanged(String(line.dropFirst(AdminClient.rostersChanged.count)).trimmingCharacters(in: .whitespaces))
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
