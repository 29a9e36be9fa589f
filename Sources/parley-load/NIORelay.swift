import ArgumentParser
import NIOCore
import NIOPosix

/// `parley-load relay`: the server half of `bench/floor/relay.c`, written on SwiftNIO with the
/// channel options Parley's c2s listener uses. It reads what a connection sends and writes it to
/// the next `fanout` connections, with no XML, routing or storage: what any server built on NIO
/// pays for the traffic before it does any work of its own. `bench/run` drives it with the C
/// relay's client half and reports it beside the kernel floor.
struct Relay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Relay server on SwiftNIO (the NIO floor): bytes read from connection i go to i+1 ... i+fanout.")
    @Option(help: "Port to listen on (127.0.0.1).") var port = 15523
    @Option(help: "Connections to expect; indices follow the order they are accepted.") var users = 1000
    @Option(help: "Connections each read is written to.") var fanout = 1

    func run() throws {
        guard users > 0, fanout > 0 else { throw ValidationError("--users and --fanout must be positive") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let done = loop.makePromise(of: Void.self)
        let table = try loop.submit { NIOLoopBound(RelayTable(users: users, done: done), eventLoop: loop) }.wait()
        let listener = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Like the C relay, nothing is read until every connection is accepted.
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let index = table.value.add(channel) else { throw ChannelError.inputClosed }
                    try channel.pipeline.syncOperations.addHandler(
                        RelayHandler(table: table.value, index: index, fanout: fanout))
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
        // Like the C relay, the server is done when a client goes away (bench/run also stops it by PID).
        try done.futureResult.wait()
        try? listener.close().wait()
    }
}

/// The accepted connections in accept order; only touched on the relay's one event loop.
final class RelayTable {
    private(set) var channels: [any Channel] = []
    private var finished = false
    let users: Int
    let done: EventLoopPromise<Void>

    init(users: Int, done: EventLoopPromise<Void>) {
        self.users = users
        self.done = done
    }

    func finish() {
        if !finished {
            finished = true
            done.succeed(())
        }
    }

    func add(_ channel: any Channel) -> Int? {
        guard channels.count < users else { return nil }
        channels.append(channel)
        if channels.count == users {
            for accepted in channels {
                accepted.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in accepted.close(promise: nil) }
            }
        }
        return channels.count - 1
    }
}

/// Writes every read on to the next `fanout` connections, flushing each, as the C relay calls `write` once per target.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let table: RelayTable
    private let index: Int
    private let fanout: Int

    init(table: RelayTable, index: Int, fanout: Int) {
        self.table = table
        self.index = index
        self.fanout = fanout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        let channels = table.channels
        for step in 1...fanout {
            channels[(index + step) % channels.count].writeAndFlush(bytes, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        table.finish()
        context.fireChannelInactive()
    }
}
