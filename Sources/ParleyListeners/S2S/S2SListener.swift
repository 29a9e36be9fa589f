import NIOCore
import NIOPosix
import ParleyNIO

/// The listening socket for incoming server-to-server streams (RFC 6120, port 5269).
public enum S2SListener {
    public static func bind(group: any EventLoopGroup, address: String, port: Int, links: S2SLinkManager) async throws -> any Channel {
        let server = links.server
        let idle = TimeAmount.milliseconds(Int64(server.limits.idleTimeout * 1000))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let decoder = XMLStreamDecoder(limits: server.limits.stream)
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(IdleStateHandler(readTimeout: idle))
                    try operations.addHandler(decoder)
                    try operations.addHandler(S2SInboundHandler(server: server, links: links, decoder: decoder))
                }
            }
        return try await bootstrap.bind(host: address, port: port).get()
    }
}
