import NIOCore
import NIOPosix
import NIOSSL
import ParleyNIO

/// The listening socket for incoming server-to-server streams (RFC 6120, port 5269).
public enum S2SListener {
    /// `directTLS`: XEP-0368 direct TLS (port 5270 by convention); the certificate is chosen by SNI.
    public static func bind(group: any EventLoopGroup, address: String, port: Int, links: S2SLinkManager,
                            directTLS: TLSContexts? = nil) async throws -> any Channel {
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
                    let handler = S2SInboundHandler(server: server, links: links, decoder: decoder, directTLS: directTLS != nil)
                    if let directTLS {
                        let recorder = handler.useRecorder()
                        try operations.addHandler(ByteToMessageHandler(TLSSNIServerDecoder(
                            contexts: directTLS, onSelected: { _ in },
                            makeTLSHandler: { _, context in makeS2SServerHandler(context: context, recorder: recorder, verifier: server.verifier) })))
                    }
                    try operations.addHandler(IdleStateHandler(readTimeout: idle))
                    try operations.addHandler(decoder)
                    try operations.addHandler(handler)
                }
            }
        return try await bootstrap.bind(host: address, port: port).get()
    }
}
