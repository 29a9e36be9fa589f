import NIOCore
import NIOSSL
import NIOTLS

/// The first handler of a direct-TLS connection (c2s port 5223, XEP-0368).
///
/// It holds back the client's bytes until the TLS ClientHello has been read, takes the SNI host
/// name from it (NIOTLS `SNIHandler`), picks that host's certificate — or
/// ``TLSContexts/defaultHost``'s when there is no SNI or the name is not served — reports the
/// chosen host through `onSelected`, inserts `NIOSSLServerHandler` for it right after itself,
/// removes itself, and replays the held bytes into the TLS handler.
///
/// The chosen host matters beyond the certificate: it is the host the stream must be for
/// (RFC 6120 §13.7.2.1) and it selects the tls-server-end-point channel-binding data
/// (``TLSContexts/channelBinding(forHost:)``) for SCRAM-*-PLUS.
///
/// A listener uses it like this:
/// ```swift
/// ServerBootstrap(group: group)
///     .childChannelInitializer { channel in
///         channel.eventLoop.makeCompletedFuture {
///             let session = ...   // whatever drives this connection; lives on channel.eventLoop
///             try channel.pipeline.syncOperations.addHandler(
///                 makeSNIServerTLSHandler(contexts: contexts) { host in
///                     // Runs on channel.eventLoop, before the TLS handler exists.
///                     session.tlsHost = host
///                     session.channelBinding = contexts.channelBinding(forHost: host)
///                 }
///             )
///             // Then the XMPP handlers; they receive decrypted bytes once the handshake is done.
///             try channel.pipeline.syncOperations.addHandlers(...)
///         }
///     }
/// ```
/// The SNI decoder must be the first handler (it reads raw bytes). A client that never sends a
/// ClientHello is held forever, so the listener's idle timeout must cover this phase too.
/// A non-TLS client makes the SNI parse fail; that falls back to the default host and the TLS
/// handshake then fails and closes the connection.
public func makeSNIServerTLSHandler(
    contexts: TLSContexts,
    onSelected: @escaping @Sendable (String) -> Void
) -> ByteToMessageHandler<TLSSNIServerDecoder> {
    ByteToMessageHandler(TLSSNIServerDecoder(contexts: contexts, onSelected: onSelected))
}

/// The decoder behind ``makeSNIServerTLSHandler(contexts:onSelected:)``: NIOTLS's `SNIHandler`
/// plus access to the pipeline, which `SNIHandler`'s completion callback does not get.
public final class TLSSNIServerDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    private let contexts: TLSContexts
    private let onSelected: @Sendable (String) -> Void
    /// Set only for the duration of a call into `sni`: `SNIHandler` calls its completion
    /// callback synchronously from `decode`, and the callback needs the context to change the
    /// pipeline. Not kept beyond the call, so there is no reference cycle with the pipeline.
    private var currentContext: ChannelHandlerContext?
    private lazy var sni = SNIHandler { [unowned self] result in
        self.serverNameKnown(result)
    }

    /// Makes the TLS handler for the chosen host; by default a plain `NIOSSLServerHandler`.
    /// Server-to-server listeners pass one with a peer-certificate verification callback.
    private let makeTLSHandler: ((String, NIOSSLContext) -> NIOSSLServerHandler)?

    /// Prefer ``makeSNIServerTLSHandler(contexts:onSelected:)``.
    public init(contexts: TLSContexts, onSelected: @escaping @Sendable (String) -> Void,
                makeTLSHandler: ((String, NIOSSLContext) -> NIOSSLServerHandler)? = nil) {
        self.contexts = contexts
        self.onSelected = onSelected
        self.makeTLSHandler = makeTLSHandler
    }

    public func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        currentContext = context
        defer { currentContext = nil }
        return sni.decode(context: context, buffer: &buffer)
    }

    public func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        currentContext = context
        defer { currentContext = nil }
        return try sni.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    private func serverNameKnown(_ result: SNIResult) -> EventLoopFuture<Void> {
        guard let context = currentContext else {
            // SNIHandler only calls back from decode, where currentContext is set.
            preconditionFailure("SNI result outside decode")
        }
        let requested: String?
        switch result {
        case .hostname(let name): requested = name
        case .fallback: requested = nil
        }
        let host = contexts.resolveHost(requested)
        onSelected(host)
        do {
            // After this decoder, not at .first: on removal it replays the held ClientHello
            // bytes to the handler after it, which must be the TLS handler.
            let sslContext = contexts.contextOrDefault(forHost: host)
            try context.pipeline.syncOperations.addHandler(
                makeTLSHandler?(host, sslContext) ?? NIOSSLServerHandler(context: sslContext),
                position: .after(context.handler)
            )
            return context.eventLoop.makeSucceededVoidFuture()
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return context.eventLoop.makeFailedFuture(error)
        }
    }
}

@available(*, unavailable)
extension TLSSNIServerDecoder: Sendable {}
