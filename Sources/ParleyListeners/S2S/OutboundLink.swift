import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ParleyKernel
import ParleyNIO
import Synchronization
import XMPPProtocol
import XMPPStream
import XMPPXML

/// One outgoing link from a local domain to a remote one: resolves, connects, negotiates, then
/// carries stanzas; bounces them when it cannot (RFC 6120 §10.4.1: remote-server-not-found /
/// remote-server-timeout).
final class OutboundLink: TickFlushable, @unchecked Sendable {
    // Safety: every mutable property is only touched on `eventLoop`; public entry points hop there.
    let pair: DomainPair
    let eventLoop: any EventLoop
    private unowned let manager: S2SLinkManager
    private var server: S2SServerContext { manager.server }

    private enum Phase { case idle, connecting, ready, finished }
    private var phase = Phase.idle
    private let finishedFlag = Atomic<Bool>(false)
    private var queue: [Stanza] = []
    /// Answers to `<db:verify/>`: true/false from the peer, nil when it could not be asked.
    private var verifications: [String: [CheckedContinuation<Bool?, Never>]] = [:]
    private var machine: S2SOutboundStateMachine
    private var channel: (any Channel)?
    private var decoder: XMLStreamDecoder?
    private var recorder: PeerCertificateRecorder?
    private var setupTimer: Scheduled<Void>?
    private var registryToken: Int?
    /// Stanzas written on the ready link since the last flush, in one buffer that goes out at the
    /// end of the loop's tick (as a client stream's do): a burst for one remote domain, such as a
    /// presence broadcast to its users, costs one write instead of one per stanza.
    private var pendingOutput: ByteBuffer?
    private var flushPending = false
    /// XEP-0288: the peer's stanzas on this bidirectional link, routed in order (RFC 6120 §10.1).
    private lazy var inboundRouter: InOrderRouter = {
        let kernel = server.kernel
        return InOrderRouter(eventLoop: eventLoop) { stanza in kernel.dispatchImmediately(stanza) }
    }()

    init(pair: DomainPair, eventLoop: any EventLoop, manager: S2SLinkManager) {
        self.pair = pair
        self.eventLoop = eventLoop
        self.manager = manager
        machine = S2SOutboundStateMachine(configuration: manager.server.configuration(for: pair.remote), local: pair.local, remote: pair.remote)
    }

    var isFinished: Bool { finishedFlag.load(ordering: .relaxed) }

    // MARK: Entry points (any thread)

    func enqueue(_ stanza: Stanza) {
        eventLoop.execute { self.enqueueOnLoop(stanza) }
    }

    func verify(id: String, key: String) async -> Bool? {
        await withCheckedContinuation { continuation in
            eventLoop.execute { self.verifyOnLoop(id: id, key: key, continuation: continuation) }
        }
    }

    func close() {
        eventLoop.execute {
            self.perform(self.machine.terminate(nil))
            self.finish(bouncing: .remoteServerNotFound, reason: "server shutting down")
        }
    }

    // MARK: On the event loop

    private func enqueueOnLoop(_ stanza: Stanza) {
        switch phase {
        case .finished:
            // Lost a race with the link closing: go round again through the manager.
            manager.send(stanza, to: pair.remote)
        case .ready:
            writeStanza(stanza.element)
        case .idle, .connecting:
            guard queue.count < server.limits.maxQueuedStanzas else {
                server.kernel.bounce(stanza, StanzaError(.resourceConstraint, text: "too many stanzas queued for \(pair.remote)"))
                return
            }
            queue.append(stanza)
            if phase == .idle { start() }
        }
    }

    private func verifyOnLoop(id: String, key: String, continuation: CheckedContinuation<Bool?, Never>) {
        guard phase != .finished else {
            continuation.resume(returning: nil)
            return
        }
        verifications[id, default: []].append(continuation)
        if phase == .idle { start() }
        if channel != nil { perform(machine.requestVerification(id: id, key: key)) } else { pendingVerifyKeys.append((id, key)) }
    }

    private var pendingVerifyKeys: [(String, String)] = []

    private func start() {
        phase = .connecting
        server.logger.debug("s2s connecting", metadata: ["remote": "\(pair.remote)", "local": "\(pair.local)"])
        setupTimer = eventLoop.scheduleTask(in: .milliseconds(Int64(server.limits.setupTimeout * 1000))) { [self] in
            guard phase == .connecting else { return }
            server.logger.notice("s2s link setup timed out", metadata: ["remote": "\(pair.remote)"])
            perform(machine.terminate(nil))
            finish(bouncing: .remoteServerTimeout, reason: "timed out")
        }
        let resolver = server.resolver
        let remote = pair.remote
        let promise = eventLoop.makePromise(of: [S2SEndpoint].self)
        promise.completeWithTask { try await resolver.endpoints(for: remote) }
        promise.futureResult.whenComplete { [self] result in
            switch result {
            case .success(let endpoints) where !endpoints.isEmpty:
                connect(endpoints[...])
            case .success:
                finish(bouncing: .remoteServerNotFound, reason: "no server-to-server service for the domain")
            case .failure(let error):
                server.logger.notice("s2s DNS lookup failed", metadata: ["remote": "\(remote)", "error": "\(error)"])
                finish(bouncing: .remoteServerNotFound, reason: "DNS lookup failed")
            }
        }
    }

    private func connect(_ endpoints: ArraySlice<S2SEndpoint>) {
        guard phase == .connecting else { return }
        guard let endpoint = endpoints.first else {
            finish(bouncing: .remoteServerNotFound, reason: "no endpoint accepted the connection")
            return
        }
        machine = S2SOutboundStateMachine(configuration: server.configuration(for: pair.remote), local: pair.local,
                                          remote: pair.remote, directTLS: endpoint.directTLS)
        let decoder = XMLStreamDecoder(limits: server.limits.stream)
        self.decoder = decoder
        let recorder = PeerCertificateRecorder()
        self.recorder = recorder
        let handler = OutboundLinkHandler(link: self)
        let server = self.server
        let remote = pair.remote
        let local = pair.local
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(Int64(server.limits.connectTimeout * 1000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    if endpoint.directTLS {
                        guard let tls = server.clientTLS[local] else { throw ListenerError.tlsUnavailable }
                        try operations.addHandler(makeS2SClientHandler(context: tls, serverHostname: remote, recorder: recorder, verifier: server.verifier))
                    }
                    try operations.addHandler(IdleStateHandler(allTimeout: .milliseconds(Int64(server.limits.idleTimeout * 1000))))
                    try operations.addHandler(decoder)
                    try operations.addHandler(handler)
                }
            }
        bootstrap.connect(host: endpoint.host, port: endpoint.port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                self.channel = channel
                server.logger.debug("s2s connected", metadata: ["remote": "\(remote)", "endpoint": "\(endpoint)"])
                if !endpoint.directTLS { perform(machine.connected()) }
            case .failure(let error):
                server.logger.info("s2s connect failed", metadata: ["remote": "\(remote)", "endpoint": "\(endpoint)", "error": "\(error)"])
                connect(endpoints.dropFirst())
            }
        }
    }

    // MARK: From the channel handler

    func received(_ input: DecodedStreamEvent) {
        switch input {
        case .event(let event): perform(machine.receive(event))
        case .failure(let error): perform(machine.parserFailed(error))
        }
    }

    func tlsHandshakeCompleted() {
        let info = recorder?.info
        let status = PeerCertificateStatus(presented: info != nil) { domain in info?.isValid(for: domain) ?? false }
        let wasDirect = machine.state == .idle
        perform(machine.tlsEstablished(certificate: status))
        if wasDirect && machine.state == .idle { perform(machine.connected()) }
    }

    func channelClosed() {
        channel = nil
        if phase == .ready {
            server.logger.info("s2s link closed", metadata: ["remote": "\(pair.remote)", "local": "\(pair.local)"])
        }
        perform(machine.peerClosed())
        finish(bouncing: .remoteServerNotFound, reason: "connection closed")
    }

    func idle() {
        guard phase == .ready else { return }
        server.logger.debug("s2s link idle, closing", metadata: ["remote": "\(pair.remote)"])
        perform(machine.terminate(nil))
    }

    // MARK: Actions

    private func perform(_ actions: [S2SOutboundStateMachine.Action]) {
        for action in actions {
            switch action {
            case .sendStreamHeader(let header):
                write(header.openingTag(), flush: false)
                if !pendingVerifyKeys.isEmpty {
                    let keys = pendingVerifyKeys
                    pendingVerifyKeys = []
                    for (id, key) in keys { perform(machine.requestVerification(id: id, key: key)) }
                }
            case .send(let element):
                write(S2SWriter.render(element), flush: false)
            case .sendStreamClose:
                write(StreamHeader.closingTag, flush: false)
            case .startTLS:
                startTLS()
            case .resetParser:
                decoder?.reset(limits: server.limits.stream)
            case .ready(let method):
                becameReady(method)
            case .deliver(let stanza):
                routeInbound(stanza)
            case .verifyAnswered(let id, _, _, let valid):
                for continuation in verifications.removeValue(forKey: id) ?? [] { continuation.resume(returning: valid) }
            case .failed(let condition, let reason):
                server.logger.notice("s2s link failed", metadata: ["remote": "\(pair.remote)", "local": "\(pair.local)", "reason": "\(reason)"])
                finish(bouncing: condition, reason: reason)
            case .closeConnection:
                writePendingOutput()
                channel?.flush()
                channel?.close(promise: nil)
            }
        }
        channel?.flush()
    }

    private func routeInbound(_ stanza: Stanza) {
        inboundRouter.submit(stanza)
    }

    private func writeStanza(_ element: XElement) {
        guard let channel, channel.isActive else { return }
        S2SWriter.encode(element, appendingTo: &pendingOutput, allocator: channel.allocator, on: eventLoop)
        guard !flushPending else { return }
        flushPending = true
        TickFlusher.current(on: eventLoop).flushAtEndOfTick(self)
    }

    func flushDeferred() {
        flushPending = false
        guard pendingOutput != nil else { return }
        writePendingOutput()
        channel?.flush()
    }

    /// Hands the coalesced stanzas to the channel; before any other write, so the stream keeps its order.
    private func writePendingOutput() {
        guard let output = pendingOutput else { return }
        pendingOutput = nil
        guard let channel, channel.isActive else { return }
        channel.write(output, promise: nil)
    }

    private func write(_ text: String, flush: Bool) {
        guard let channel, channel.isActive else { return }
        writePendingOutput()
        let buffer = channel.allocator.buffer(string: text)
        if flush { channel.writeAndFlush(buffer, promise: nil) } else { channel.write(buffer, promise: nil) }
    }

    private func startTLS() {
        guard let channel, let tls = server.clientTLS[pair.local], let recorder else {
            perform(machine.terminate(StreamError(.undefinedCondition)))
            return
        }
        channel.flush()
        do {
            let handler = try makeS2SClientHandler(context: tls, serverHostname: pair.remote, recorder: recorder, verifier: server.verifier)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        } catch {
            server.logger.notice("s2s could not start TLS", metadata: ["remote": "\(pair.remote)", "error": "\(error)"])
            finish(bouncing: .remoteServerNotFound, reason: "TLS setup failed")
            channel.close(promise: nil)
        }
    }

    private func becameReady(_ method: S2SAuthMethod) {
        phase = .ready
        setupTimer?.cancel()
        server.logger.info("s2s outbound link ready", metadata: ["remote": "\(pair.remote)", "local": "\(pair.local)", "method": "\(method.rawValue)"])
        registryToken = manager.registry.add(.init(local: pair.local, remote: pair.remote, direction: .outbound,
                                                   method: method.rawValue + (machine.isBidirectional ? "+bidi" : ""),
                                                   secure: machine.isSecure, since: WallClock.seconds()))
        let pending = queue
        queue = []
        for stanza in pending { write(S2SWriter.render(stanza.element), flush: false) }
        channel?.flush()
    }

    private func finish(bouncing condition: StanzaErrorCondition, reason: String) {
        guard phase != .finished else { return }
        phase = .finished
        finishedFlag.store(true, ordering: .relaxed)
        setupTimer?.cancel()
        if let registryToken { manager.registry.remove(registryToken) }
        manager.finished(self)
        let pending = queue
        queue = []
        for stanza in pending {
            server.kernel.bounce(stanza, StanzaError(condition, text: "\(pair.remote): \(reason)"))
        }
        for continuations in verifications.values {
            for continuation in continuations { continuation.resume(returning: nil) }
        }
        verifications = [:]
        if let channel, channel.isActive {
            // Stanzas already accepted for the link go out before it closes, as they did unbuffered.
            writePendingOutput()
            channel.flush()
            channel.close(promise: nil)
        }
    }
}

/// Passes a link's channel events to it (same event loop).
final class OutboundLinkHandler: ChannelInboundHandler {
    typealias InboundIn = DecodedStreamEvent
    private let link: OutboundLink

    init(link: OutboundLink) { self.link = link }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.received(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            link.tlsHandshakeCompleted()
        } else if event is IdleStateHandler.IdleStateEvent {
            link.idle()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.channelClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
