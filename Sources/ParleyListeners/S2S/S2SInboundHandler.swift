import Logging
import NIOCore
import NIOSSL
import NIOTLS
import ParleyKernel
import ParleyNIO
import XMPPAddress
import XMPPProtocol
import XMPPStream
import XMPPXML

/// Drives one incoming server-to-server connection (RFC 6120 receiving entity).
final class S2SInboundHandler: ChannelInboundHandler, TickFlushable {
    typealias InboundIn = DecodedStreamEvent
    typealias OutboundOut = ByteBuffer

    private let server: S2SServerContext
    private let links: S2SLinkManager
    private let decoder: XMLStreamDecoder
    private var machine: S2SInboundStateMachine
    private var context: ChannelHandlerContext?
    private var remoteAddress = "unknown"
    private var recorder: PeerCertificateRecorder?
    private var registryTokens: [Int] = []
    /// Whether something was written since the last flush.
    private var unflushed = false
    /// Whether the loop's tick flusher will call `flushDeferred` (XEP-0288 stanzas written).
    private var flushQueued = false
    /// Remote domains this connection is counted against (per-domain connection limit).
    private var countedDomains: Set<String> = []
    /// XEP-0288: the pairs we may send on over this stream, registered with the link manager.
    private var reverseRoutes: [ReverseRoute] = []
    private var closed = false
    /// Routes the peer's stanzas in order (RFC 6120 §10.1); created with the handler's context.
    private var router: InOrderRouter?

    init(server: S2SServerContext, links: S2SLinkManager, decoder: XMLStreamDecoder, directTLS: Bool = false) {
        self.server = server
        self.links = links
        self.decoder = decoder
        machine = S2SInboundStateMachine(configuration: server.configuration, directTLS: directTLS, makeStreamID: { RandomID.make(length: 16) })
    }

    /// For direct TLS: the recorder the listener's TLS handler writes the peer's certificate to.
    func useRecorder() -> PeerCertificateRecorder {
        let recorder = PeerCertificateRecorder()
        self.recorder = recorder
        return recorder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let kernel = server.kernel
        router = InOrderRouter(eventLoop: context.eventLoop) { stanza in kernel.dispatchImmediately(stanza) }
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
        server.logger.debug("s2s connection accepted", metadata: ["address": "\(remoteAddress)"])
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        for token in registryTokens { links.registry.remove(token) }
        for domain in countedDomains { links.releaseInbound(from: domain) }
        countedDomains = []
        for route in reverseRoutes { links.removeReverseRoute(route) }
        reverseRoutes = []
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        switch unwrapInboundIn(data) {
        case .event(let event):
            // Counted before anything is answered, so two connections racing on two event loops
            // cannot both see themselves under the limit.
            if case .open(let header) = event, let from = header.from.flatMap({ try? JID($0) }), from.localpart == nil {
                count(from.domainpart)
                if closed { return }
            }
            perform(machine.receive(event))
        case .failure(let error):
            server.logger.info("s2s stream error from bad XML", metadata: ["address": "\(remoteAddress)", "error": "\(error)"])
            perform(machine.parserFailed(error))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let info = recorder?.info
            let status = PeerCertificateStatus(presented: info != nil) { domain in info?.isValid(for: domain) ?? false }
            perform(machine.tlsEstablished(certificate: status))
            return
        }
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            terminate(StreamError(.connectionTimeout, text: "idle"))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        server.logger.debug("s2s inbound connection error", metadata: ["address": "\(remoteAddress)", "error": "\(error)"])
        context.close(promise: nil)
    }

    func terminate(_ error: StreamError) {
        perform(machine.terminate(error))
    }

    private func perform(_ actions: [S2SInboundStateMachine.Action]) {
        guard let context else { return }
        for action in actions {
            switch action {
            case .sendStreamHeader(let header):
                write(header.openingTag())
            case .send(let element):
                if element.namespace == NS.streams && element.name == "error" {
                    server.logger.info("s2s stream error sent", metadata: [
                        "address": "\(remoteAddress)", "peer": "\(machine.peerDomain ?? "-")",
                        "condition": "\(StreamError(element: element)?.condition.rawValue ?? "?")"])
                }
                write(S2SWriter.render(element))
            case .sendStreamClose:
                write(StreamHeader.closingTag)
            case .startTLS(let host):
                startTLS(context: context, host: host)
            case .resetParser:
                decoder.reset(limits: server.limits.stream)
            case .verifyDialback(let remote, let local, let key, let streamID):
                verify(remote: remote, local: local, key: key, streamID: streamID, context: context)
            case .authenticated(let pair, let method):
                count(pair.remote)
                server.logger.info("s2s inbound authenticated", metadata: [
                    "remote": "\(pair.remote)", "local": "\(pair.local)", "method": "\(method.rawValue)", "address": "\(remoteAddress)"])
                registryTokens.append(links.registry.add(.init(local: pair.local, remote: pair.remote, direction: .inbound,
                                                               method: method.rawValue, secure: machine.isSecure, since: WallClock.seconds())))
            case .reverseRouteReady(let pair):
                let route = ReverseRoute(pair: pair, eventLoop: context.eventLoop, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
                reverseRoutes.append(route)
                links.addReverseRoute(route)
                registryTokens.append(links.registry.add(.init(local: pair.local, remote: pair.remote, direction: .outbound,
                                                               method: "bidi", secure: machine.isSecure, since: WallClock.seconds())))
                server.logger.info("s2s bidirectional stream usable for sending", metadata: ["remote": "\(pair.remote)", "local": "\(pair.local)"])
            case .authenticationFailed(let remote, let reason):
                server.logger.notice("s2s inbound authentication failed", metadata: ["remote": "\(remote)", "reason": "\(reason)", "address": "\(remoteAddress)"])
            case .deliver(let stanza):
                route(stanza, context: context)
            case .closeConnection:
                closed = true
                context.flush()
                context.close(promise: nil)
                return
            }
        }
        // Most batches (stanzas from the peer) write nothing back, and an empty flush still walks the pipeline.
        if unflushed {
            unflushed = false
            context.flush()
        }
    }

    /// XEP-0288: a stanza of ours for the peer, over its bidirectional stream.
    func sendReverse(_ stanza: Stanza, route: ReverseRoute) {
        guard !closed, let context, context.channel.isActive else {
            // The stream went away: route it again (a link of our own will be set up).
            links.removeReverseRoute(route)
            links.send(stanza, to: route.pair.remote)
            return
        }
        // Like an outbound link's stanzas: encoded straight into a buffer, and flushed once at the
        // end of the loop's tick with whatever else was routed to the peer in it (one system call).
        var buffer: ByteBuffer?
        S2SWriter.encode(stanza.element, appendingTo: &buffer, allocator: context.channel.allocator, on: context.eventLoop)
        guard let buffer else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        unflushed = true
        if !flushQueued {
            flushQueued = true
            TickFlusher.current(on: context.eventLoop).flushAtEndOfTick(self)
        }
    }

    func flushDeferred() {
        flushQueued = false
        guard unflushed, !closed, let context else { return }
        unflushed = false
        context.flush()
    }

    /// Limits per remote domain: a domain over its connection limit gets `policy-violation`.
    private func count(_ domain: String) {
        guard !closed, !countedDomains.contains(domain) else { return }
        guard links.admitInbound(from: domain) else {
            server.logger.notice("s2s connection refused: too many from one domain", metadata: ["remote": "\(domain)", "address": "\(remoteAddress)"])
            perform(machine.terminate(StreamError(.policyViolation, text: "too many connections from \(domain)")))
            return
        }
        countedDomains.insert(domain)
    }

    private func write(_ text: String) {
        guard let context, context.channel.isActive else { return }
        unflushed = true
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
    }

    private func startTLS(context: ChannelHandlerContext, host: String) {
        context.flush()
        guard decoder.unconsumedByteCount == 0, let tls = server.serverTLS[host] else {
            closed = true
            context.close(promise: nil)
            return
        }
        let recorder = PeerCertificateRecorder()
        self.recorder = recorder
        do {
            try context.pipeline.syncOperations.addHandler(
                makeS2SServerHandler(context: tls, recorder: recorder, verifier: server.verifier), position: .first)
        } catch {
            context.close(promise: nil)
            return
        }
        decoder.reset(limits: server.limits.stream)
    }

    private func verify(remote: String, local: String, key: String, streamID: String, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let links = self.links
        let promise = context.eventLoop.makePromise(of: Bool?.self)
        promise.completeWithTask { await links.verify(remote: remote, local: local, key: key, streamID: streamID) }
        promise.futureResult.whenSuccess { answer in
            let handler = loopBound.value
            guard !handler.closed else { return }
            if let valid = answer {
                handler.perform(handler.machine.dialbackVerified(remote: remote, local: local, valid: valid))
            } else {
                handler.perform(handler.machine.dialbackUnverifiable(remote: remote, local: local, condition: .remoteServerNotFound))
            }
        }
    }

    private func route(_ stanza: Stanza, context: ChannelHandlerContext) {
        router?.submit(stanza)
    }
}

/// XEP-0288: sending our stanzas over a peer's incoming bidirectional stream; safe from any thread.
final class ReverseRoute: Sendable {
    let pair: DomainPair
    private let eventLoop: any EventLoop
    private let handler: NIOLoopBound<S2SInboundHandler>

    init(pair: DomainPair, eventLoop: any EventLoop, handler: NIOLoopBound<S2SInboundHandler>) {
        self.pair = pair
        self.eventLoop = eventLoop
        self.handler = handler
    }

    func send(_ stanza: Stanza) {
        let handler = self.handler
        eventLoop.execute { handler.value.sendReverse(stanza, route: self) }
    }
}
