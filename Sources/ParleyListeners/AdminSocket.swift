#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix

/// A Unix-domain socket in the data directory through which `parley` commands ask the running
/// server about its state. One request line, one JSON answer, then the server closes.
/// The socket is created mode 0600: only the server's own user may ask.
public enum AdminSocket {
    public typealias Command = @Sendable (String) async -> String

    public static func bind(group: any EventLoopGroup, path: String, logger: Logger, handle: @escaping Command) async throws -> any Channel {
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AdminRequestHandler(handle: handle))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        chmod(path, 0o600)
        logger.debug("admin socket ready", metadata: ["path": "\(path)"])
        return channel
    }
}

final class AdminRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let handle: AdminSocket.Command
    private var buffer: [UInt8] = []
    private var answered = false

    init(handle: @escaping AdminSocket.Command) { self.handle = handle }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        buffer += unwrapInboundIn(data).readableBytesView
        guard buffer.count <= 4096 else {
            context.close(promise: nil)
            return
        }
        guard let newline = buffer.firstIndex(of: 0x0A) else { return }
        answered = true
        let line = String(decoding: buffer[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        let handle = self.handle
        let channel = context.channel
        let promise = context.eventLoop.makePromise(of: String.self)
        promise.completeWithTask { await handle(line) }
        promise.futureResult.whenSuccess { answer in
            channel.writeAndFlush(channel.allocator.buffer(string: answer + "\n")).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
