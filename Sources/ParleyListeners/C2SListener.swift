import NIOCore
import NIOPosix
import ParleyNIO

/// A listening socket for client connections: STARTTLS (RFC 6120 §5, port 5222) or direct TLS (XEP-0368, port 5223).
public enum C2SListener {
    /// Binds and starts accepting. The returned channel closes the listener when closed.
    public static func bind(group: any EventLoopGroup, address: String, port: Int, directTLS: Bool,
                            server: C2SServerContext) async throws -> any Channel {
        if directTLS && server.tls == nil {
            throw ListenerError.tlsUnavailable
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Each connection keeps its receive buffer between reads: start small (most stanzas are
            // a few hundred bytes; NIO's default starts at 2 KiB) and let it grow for bigger input.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = C2SConnectionHandler(server: server, directTLS: directTLS)
                    let operations = channel.pipeline.syncOperations
                    if directTLS, let tls = server.tls {
                        let loopBound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                        try operations.addHandler(makeSNIServerTLSHandler(contexts: tls) { host in
                            loopBound.value.selectedTLSHost(host)
                        })
                    }
                    try operations.addHandler(handler)
                }
            }
        return try await bootstrap.bind(host: address, port: port).get()
    }
}

public enum ListenerError: Error, CustomStringConvertible {
    case tlsUnavailable

    public var description: String {
        switch self {
        case .tlsUnavailable: "direct TLS needs a certificate"
        }
    }
}
