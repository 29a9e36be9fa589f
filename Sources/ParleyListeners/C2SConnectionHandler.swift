import Logging
import NIOCore
import NIOSSL
import NIOTLS
import ParleyKernel
import ParleyNIO
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPStream
import XMPPXML

/// Drives one client connection: parses its bytes (`XMLStreamInput`), feeds the stream events to a
/// `C2SStateMachine` and performs its actions.
///
/// Runs entirely on its channel's event loop. Work that has to leave the loop (credential lookups,
/// IQ handlers) comes back to it before the connection's next input is processed, so stanzas from one
/// session keep their order (RFC 6120 §10.1).
final class C2SConnectionHandler: ChannelInboundHandler, QuietStreamMember, TickFlushable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: C2SServerContext
    /// Parsed here rather than by a decoder handler in front: each stanza would otherwise cost a
    /// trip up the pipeline, boxed into an `NIOAny`.
    private var input: XMLStreamInput
    private let directTLS: Bool
    private var machine: C2SStateMachine
    private var context: ChannelHandlerContext?
    private var remoteAddress = "unknown"
    private var connectionToken: Int?
    private var session: LocalSession?
    private var tlsHost: String?

    /// Input held back while a credential lookup or resource binding is under way.
    private var inputBacklog: [DecodedStreamEvent] = []
    private var suspended = false
    /// Routes this session's stanzas in order (created when the session is bound).
    private var router: InOrderRouter?

    /// The authentication and idle timeouts and the whitespace keepalive, checked by the loop's
    /// `QuietStreamSweeper` instead of timers per connection.
    private var sweeper: QuietStreamSweeper?
    var quietStreamSlot = -1
    private var connectedAt = NIODeadline.now()
    private let unauthenticatedTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let keepaliveInterval: TimeAmount
    private var lastOutput = NIODeadline.now()
    /// Set by every write and read back by the next sweep, which notes the time: cheaper than a
    /// clock read per write, and half a second of precision is plenty for a keepalive.
    private var wroteSinceSweep = false
    private var outboundWhileUnwritable = 0
    /// Routed stanzas are written at once and flushed at the end of the loop's tick, together.
    private var flusher: TickFlusher?
    private var flushPending = false
    /// Everything written since the last flush, in one buffer that goes down the pipeline as one
    /// write when flushed: a presence broadcast or a login's probe answers put many stanzas on one
    /// stream in a tick, and each write of its own cost a trip down the pipeline, an entry in the
    /// channel's queue and a buffer. Nil when nothing was written: a client's stanza routed
    /// elsewhere writes nothing to its own stream, and an empty flush still walks the pipeline.
    /// Element boundaries are not kept: right for a byte stream (RFC 6120 §4); a transport that
    /// frames each element (WebSocket, RFC 7395 §3.3.3) must frame from the elements, not these writes.
    private var pendingOutput: ByteBuffer?
    private var closed = false
    private var encoder: ElementEncoder?
    /// Shared by all client streams: the prefixes their headers declare are the same.
    private static let serializer = XMLSerializer()

    init(server: C2SServerContext, directTLS: Bool) {
        self.server = server
        self.input = XMLStreamInput(limits: server.limits.beforeAuth)
        self.directTLS = directTLS
        self.machine = C2SStateMachine(configuration: server.configuration, directTLS: directTLS, makeStreamID: { RandomID.make(length: 16) })
        unauthenticatedTimeout = .milliseconds(Int64(server.limits.unauthenticatedTimeout * 1000))
        idleTimeout = .milliseconds(Int64(server.limits.idleTimeout * 1000))
        keepaliveInterval = .milliseconds(Int64(min(server.limits.idleTimeout / 2, 60) * 1000))
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        flusher = TickFlusher.current(on: context.eventLoop)
        encoder = ElementEncoder.current(on: context.eventLoop)
    }

    /// The sweeper holds its members strongly: let go here too, should the handler ever leave a
    /// pipeline whose channel did not go inactive first.
    func handlerRemoved(context: ChannelHandlerContext) {
        stopSweeping()
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        connectionToken = server.connections.admit(address: remoteAddress) { error in
            eventLoop.execute { loopBound.value.terminate(error) }
        }
        guard connectionToken != nil else {
            server.logger.notice("c2s connection refused: connection limit reached", metadata: ["address": "\(remoteAddress)"])
            context.close(promise: nil)
            return
        }
        server.logger.debug("c2s connection opened", metadata: ["address": "\(remoteAddress)", "direct_tls": "\(directTLS)"])
        connectedAt = .now()
        let sweeper = QuietStreamSweeper.current(on: context.eventLoop)
        sweeper.add(self)
        self.sweeper = sweeper
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        stopSweeping()
        if let connectionToken { server.connections.remove(connectionToken) }
        if let session {
            let kernel = server.kernel
            Task.immediate { await kernel.unbind(session) }
            server.logger.info("c2s session ended", metadata: ["jid": "\(session.jid)", "address": "\(remoteAddress)"])
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch input.feed(unwrapInboundIn(data)) {
        case .failure(let error):
            receive(.failure(error))
        case .success(let events):
            // A stream restart (RFC 6120 §4.3.3) resets the parser: what was parsed after the old
            // stream's last element belongs to no stream and is dropped.
            let generation = input.generation
            for event in events {
                guard generation == input.generation else { return }
                receive(.event(StreamEvent(event)))
            }
        }
    }

    private func receive(_ event: DecodedStreamEvent) {
        if suspended {
            inputBacklog.append(event)
            return
        }
        process(event)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let host = tlsHost ?? server.tls?.defaultHost
            let binding = host.flatMap { server.tls?.channelBinding(forHost: $0) }.map { ChannelBinding(type: "tls-server-end-point", data: $0) }
            if directTLS {
                machine.directTLSEstablished(channelBinding: binding)
            } else {
                perform(machine.tlsEstablished(channelBinding: binding))
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        server.logger.debug("c2s connection error", metadata: ["address": "\(remoteAddress)", "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { outboundWhileUnwritable = 0 }
        context.fireChannelWritabilityChanged()
    }

    /// Called by the SNI handler of a direct-TLS listener with the host the client asked for.
    func selectedTLSHost(_ host: String) {
        tlsHost = host
    }

    // MARK: Processing

    private func process(_ input: DecodedStreamEvent) {
        guard !closed else { return }
        switch input {
        case .event(let event):
            perform(machine.receive(event))
        case .failure(let error):
            server.logger.info("c2s stream error from bad XML", metadata: ["address": "\(remoteAddress)", "error": "\(error)"])
            perform(machine.parserFailed(error))
        }
    }

    private func perform(_ actions: [C2SStateMachine.Action]) {
        guard let context else { return }
        // Work that leaves the machine (credential lookups, binding, registration) starts after the
        // other actions of this batch, since it may finish, and act on its result, right away.
        var work: [() -> Void] = []
        for action in actions {
            switch action {
            case .sendStreamHeader(let header):
                writeRaw(header.openingTag(), flush: false)
            case .send(let element):
                if element.namespace == NS.streams && element.name == "error" {
                    server.logger.info("c2s stream error sent", metadata: [
                        "address": "\(remoteAddress)", "condition": "\(StreamError(element: element)?.condition.rawValue ?? "?")",
                        "jid": "\(session?.jid.description ?? machine.authenticatedUser?.description ?? "-")"])
                }
                write(element)
            case .sendStreamClose:
                writeRaw(StreamHeader.closingTag, flush: false)
            case .startTLS(let host):
                startTLS(context: context, host: host)
            case .resetParser(let authenticated):
                input.reset(limits: authenticated ? server.limits.afterAuth : server.limits.beforeAuth)
            case .lookupCredentials(let username, let host, let hash):
                work.append { self.lookupCredentials(username: username, host: host, hash: hash, context: context) }
            case .authenticated(let user):
                server.logger.info("c2s authenticated", metadata: ["user": "\(user)", "address": "\(remoteAddress)"])
            case .authenticationFailed(let username, let condition):
                if condition != .aborted { server.authFailures.record(remoteAddress) }
                server.logger.notice("c2s authentication failed", metadata: [
                    "user": "\(username ?? "-")", "address": "\(remoteAddress)", "reason": "\(condition.rawValue)"])
            case .bind(let user, let resource):
                work.append { self.bind(user: user, resource: resource, context: context) }
            case .sessionStarted(let jid):
                server.logger.info("c2s session started", metadata: ["jid": "\(jid)", "address": "\(remoteAddress)", "tls": "\(machine.isSecure)"])
            case .route(let stanza):
                route(stanza)
            case .register(let username, let password, let host):
                work.append { self.register(username: username, password: password, host: host, context: context) }
            case .nonStanza:
                // No module handles first-level elements other than stanzas yet (RFC 6120 §4.9.3.24).
                perform(machine.terminate(StreamError(.unsupportedStanzaType)))
            case .closeConnection:
                closed = true
                flush(context)
                context.close(promise: nil)
                return
            }
        }
        for start in work { start() }
        // With a deferred flush already queued (stanzas routed to this session during the tick),
        // that one writes everything in one call.
        if pendingOutput != nil && !flushPending { flush(context) }
    }

    private func flush(_ context: ChannelHandlerContext) {
        if let output = pendingOutput {
            pendingOutput = nil
            context.write(wrapOutboundOut(output), promise: nil)
        }
        context.flush()
    }

    /// Called by the loop's sweeper twice a second.
    func sweep(now: NIODeadline) {
        guard !closed else { return }
        if let sweeper { input.sweep(now: now, sweeper: sweeper) }
        if wroteSinceSweep {
            wroteSinceSweep = false
            lastOutput = now
        }
        if session == nil, now - connectedAt >= unauthenticatedTimeout {
            server.logger.info("c2s connection did not authenticate in time", metadata: ["address": "\(remoteAddress)"])
            stopSweeping()
            terminate(StreamError(.connectionTimeout, text: "authentication took too long"))
        } else if now - input.lastInputTime >= idleTimeout {
            // RFC 6120 §4.9.3.4: the peer has generated no traffic for too long.
            server.logger.info("c2s connection idle, closing", metadata: ["address": "\(remoteAddress)"])
            stopSweeping()
            terminate(StreamError(.connectionTimeout, text: "idle for too long"))
        } else if machine.state == .active, now - lastOutput >= keepaliveInterval {
            // A whitespace keepalive (RFC 6120 §4.6.1) keeps NATs and the client's own timers happy.
            writeRaw(" ", flush: true)
        }
    }

    private func stopSweeping() {
        sweeper?.remove(self)
        sweeper = nil
    }

    private func writeRaw(_ text: String, flush: Bool) {
        guard let context, context.channel.isActive else { return }
        wroteSinceSweep = true
        if pendingOutput == nil { pendingOutput = context.channel.allocator.buffer(capacity: text.utf8.count) }
        pendingOutput!.writeString(text)
        if flush { self.flush(context) }
    }

    /// Writes a stanza or other element of the stream, unflushed.
    private func write(_ element: XElement) {
        guard let context, context.channel.isActive, let encoder else { return }
        wroteSinceSweep = true
        encoder.encode(element, with: Self.serializer, inheritedNamespace: NS.client, appendingTo: &pendingOutput, allocator: context.channel.allocator)
    }

    private func startTLS(context: ChannelHandlerContext, host: String) {
        // RFC 6120 §5.4.3.3 and the STARTTLS command-injection attacks: plaintext buffered after
        // <starttls/> must not be read as if it had come over TLS.
        flush(context)
        guard input.unconsumedByteCount == 0, let tls = server.tls else {
            closed = true
            context.close(promise: nil)
            return
        }
        tlsHost = tls.resolveHost(host)
        let handler = NIOSSLServerHandler(context: tls.contextOrDefault(forHost: host))
        do {
            try context.pipeline.syncOperations.addHandler(handler, position: .first)
        } catch {
            server.logger.error("could not start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        input.reset(limits: server.limits.beforeAuth)
    }

    private func lookupCredentials(username: String, host: String, hash: SCRAMHash, context: ChannelHandlerContext) {
        if server.authFailures.isBlocked(remoteAddress) {
            perform(machine.authenticationThrottled())
            return
        }
        suspended = true
        let accounts = server.accounts
        ImmediateWork.start(on: context.eventLoop, {
            try await accounts.account(username: username, host: host)?.credential(for: hash)
        }, then: { [self] result in
            suspended = false
            switch result {
            case .success(let credential):
                perform(machine.credentialsLoaded(credential))
            case .failure(let error):
                server.logger.error("account lookup failed", metadata: ["error": "\(error)"])
                perform(machine.terminate(StreamError(.internalServerError)))
            }
            drainInputBacklog()
        })
    }

    /// XEP-0077 §3.1: creates the account off the event loop (deriving SCRAM keys is deliberately slow).
    private func register(username: String, password: String, host: String, context: ChannelHandlerContext) {
        if server.registrations.isBlocked(remoteAddress) {
            perform(machine.registrationFinished(.failure(StanzaError(.resourceConstraint, text: "too many registrations from your address; try later"))))
            return
        }
        suspended = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let accounts = server.accounts
        let iterations = server.configuration.scramIterations
        let promise = context.eventLoop.makePromise(of: Result<JID, StanzaError>.self)
        promise.completeWithTask {
            guard let jid = try? JID(localpart: username, domainpart: host, resourcepart: nil) else {
                return .failure(StanzaError(.notAcceptable, text: "that username is not allowed"))
            }
            guard let credentials = try? SCRAMCredential.generateAll(password: password, iterations: iterations) else {
                return .failure(StanzaError(.notAcceptable, text: "that password is not allowed"))
            }
            let record = AccountRecord(username: jid.localpart!, host: host, credentials: credentials,
                                       createdAt: WallClock.seconds())
            do {
                try await accounts.create(record)
                return .success(jid)
            } catch AccountStoreError.alreadyExists {
                return .failure(StanzaError(.conflict, text: "that username is taken"))
            }
        }
        promise.futureResult.whenComplete { result in
            let handler = loopBound.value
            handler.suspended = false
            switch result {
            case .success(.success(let jid)):
                handler.server.registrations.record(handler.remoteAddress)
                handler.server.logger.notice("c2s account registered", metadata: ["user": "\(jid)", "address": "\(handler.remoteAddress)"])
                handler.perform(handler.machine.registrationFinished(.success(())))
            case .success(.failure(let error)):
                handler.perform(handler.machine.registrationFinished(.failure(error)))
            case .failure(let error):
                handler.server.logger.error("registration failed", metadata: ["error": "\(error)"])
                handler.perform(handler.machine.registrationFinished(.failure(StanzaError(.internalServerError))))
            }
            handler.drainInputBacklog()
        }
    }

    private func drainInputBacklog() {
        while !suspended, !inputBacklog.isEmpty, !closed {
            process(inputBacklog.removeFirst())
        }
    }

    private func bind(user: JID, resource: String?, context: ChannelHandlerContext) {
        suspended = true
        let eventLoop = context.eventLoop
        let transport = C2STransport(eventLoop: eventLoop, handler: NIOLoopBound(self, eventLoop: eventLoop))
        let kernel = server.kernel
        ImmediateWork.start(on: eventLoop, {
            await kernel.bind(user: user, resource: resource, transport: transport)
        }, then: { [self] result in
            guard case .success(let bound) = result else { return }
            suspended = false
            session = bound
            if closed {
                // The connection went away while binding.
                Task.immediate { await kernel.unbind(bound) }
                return
            }
            router = InOrderRouter(eventLoop: eventLoop) { stanza in kernel.routeImmediately(stanza, from: bound) }
            perform(machine.bindSucceeded(bound.jid))
            drainInputBacklog()
        })
    }

    private func route(_ stanza: Stanza) {
        guard let router else { return }
        router.submit(stanza)
    }

    // MARK: From other sessions and the server

    /// Writes a stanza routed to this session, enforcing the outbound queue bound.
    func deliver(_ element: XElement) {
        guard let context, !closed else { return }
        if !context.channel.isWritable {
            outboundWhileUnwritable += 1
            if outboundWhileUnwritable > server.limits.maxOutboundQueue {
                server.logger.warning("c2s outbound queue overflow, closing", metadata: ["jid": "\(session?.jid.description ?? "-")"])
                terminate(StreamError(.policyViolation, text: "too many stanzas queued for a client that is not reading"))
                return
            }
        }
        write(element)
        if !flushPending, let flusher {
            flushPending = true
            flusher.flushAtEndOfTick(self)
        }
    }

    func flushDeferred() {
        flushPending = false
        if pendingOutput != nil, let context { flush(context) }
    }

    func terminate(_ error: StreamError) {
        guard !closed else { return }
        perform(machine.terminate(error))
        if !closed, let context {
            // We sent our closing tag; give the peer a moment to answer with its own, then close (RFC 6120 §4.4).
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .seconds(5)) { loopBound.value.context?.close(promise: nil) }
        }
    }

}

/// The kernel's handle on a session's connection; safe to use from any thread.
final class C2STransport: SessionHandle {
    private let eventLoop: any EventLoop
    private let handler: NIOLoopBound<C2SConnectionHandler>

    init(eventLoop: any EventLoop, handler: NIOLoopBound<C2SConnectionHandler>) {
        self.eventLoop = eventLoop
        self.handler = handler
    }

    func deliver(_ element: XElement) {
        if eventLoop.inEventLoop {
            handler.value.deliver(element)
        } else {
            let handler = self.handler
            eventLoop.execute { handler.value.deliver(element) }
        }
    }

    func terminate(_ error: StreamError) {
        let handler = self.handler
        eventLoop.execute { handler.value.terminate(error) }
    }
}
