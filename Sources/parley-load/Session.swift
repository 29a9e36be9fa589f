import Foundation
import NIOCore
import NIOSSL
import XMPPXML

/// One simulated client: a c2s connection that logs in (optionally STARTTLS), binds, fetches its
/// roster, sends initial presence, and then sends and counts whatever the scenario asks for.
///
/// Safety (`@unchecked Sendable`): a session is created before its channel exists and from then on
/// touched only on the load generator's single event loop thread (its channel's loop).
final class Session: @unchecked Sendable {
    enum Phase: Equatable {
        case idle, connecting, awaitingFeatures, awaitingProceed, awaitingChallenge, awaitingSuccess
        case awaitingBind, awaitingSession, awaitingRoster, ready, failed, closed
    }

    enum Role {
        case normal, probeSender, probeReceiver
    }

    let number: Int
    let username: String
    /// `user@domain`, to tell the session's own presence from its contacts'.
    let bareJID: [UInt8]
    let role: Role
    unowned let run: LoadRun

    var phase = Phase.idle
    var secure = false
    var authenticated = false
    var sessionRequired = false
    var exchange: SCRAMExchange?
    var context: ChannelHandlerContext?
    var scanner = StanzaScanner()
    var connectStarted: UInt64 = 0
    var needsFlush = false
    /// Messages built this tick, written in one go at the flush.
    var outbox: ByteBuffer?
    var wasActive = false
    var sourceIndex = 0
    /// Message targets (bare JIDs as bytes), used in turn.
    var targets: [[UInt8]] = []
    var nextTarget = 0

    init(number: Int, username: String, domain: String, role: Role, run: LoadRun) {
        self.number = number
        self.username = username
        self.bareJID = Array("\(username)@\(domain)".utf8)
        self.role = role
        self.run = run
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: output

    func send(_ text: String) {
        guard let context else { return }
        let buffer = context.channel.allocator.buffer(string: text)
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    func write(_ buffer: ByteBuffer) {
        context?.write(NIOAny(buffer), promise: nil)
    }

    func flush() {
        needsFlush = false
        context?.flush()
    }

    private func openStream() {
        let domain = XMLEscaping.escaped(run.options.domain)
        send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='\(domain)' version='1.0'>")
        phase = .awaitingFeatures
    }

    // MARK: events from the channel

    func channelActive() {
        wasActive = true
        run.channelOpened()
        openStream()
    }

    func channelInactive() {
        let was = phase
        phase = .closed
        context = nil
        outbox = nil
        run.sessionClosed(self, previousPhase: was, wasActive: wasActive)
        wasActive = false
    }

    func fail(_ reason: String) {
        guard phase != .failed && phase != .closed else { return }
        let was = phase
        phase = .failed
        run.sessionFailed(self, reason: reason, previousPhase: was)
        context?.close(promise: nil)
    }

    func received(_ bytes: UnsafeRawBufferPointer) {
        scanner.append(bytes)
        let now = monotonicNanos()
        run.lastInbound = now
        var restart = false
        scanner.scan { event, buf in
            switch event {
            case .streamOpened:
                return true
            case .streamClosed:
                self.fail("server closed the stream")
                return false
            case .element(let range):
                switch self.element(buf, range, now: now) {
                case .next: return true
                case .restart:
                    restart = true
                    return false
                case .stop: return false
                }
            }
        }
        if restart {
            scanner.reset()
            openStream()
        }
        if phase == .failed || phase == .closed {
            scanner.reset()
        }
    }

    private enum Next {
        case next, restart, stop
    }

    private func element(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, now: UInt64) -> Next {
        let name = ByteSearch.localName(buf, at: range.lowerBound, limit: range.upperBound)
        if phase == .ready {
            if ByteSearch.equals(buf, name, "message") {
                run.messageArrived(self, buf, range, now: now)
            } else if ByteSearch.equals(buf, name, "presence") {
                run.presenceArrived(self, buf, range, now: now)
            } else if ByteSearch.equals(buf, name, "iq") {
                answerIQ(buf, range)
            } else if ByteSearch.equals(buf, name, "error") {
                fail("stream error: \(ByteSearch.string(buf, range).prefix(300))")
                return .stop
            }
            return .next
        }
        if ByteSearch.equals(buf, name, "error") {
            fail("stream error: \(ByteSearch.string(buf, range).prefix(300))")
            return .stop
        }
        switch phase {
        case .awaitingFeatures:
            guard ByteSearch.equals(buf, name, "features") else { return .next }
            return features(buf, range)
        case .awaitingProceed:
            guard ByteSearch.equals(buf, name, "proceed") else {
                fail("STARTTLS refused: \(ByteSearch.string(buf, range).prefix(200))")
                return .stop
            }
            do {
                guard let tls = run.tlsContext, let context else { throw ChannelError.ioOnClosedChannel }
                try context.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil), position: .first)
                secure = true
            } catch {
                fail("TLS set-up: \(error)")
                return .stop
            }
            return .restart
        case .awaitingChallenge, .awaitingSuccess:
            return sasl(buf, range, name)
        case .awaitingBind:
            guard ByteSearch.equals(buf, name, "iq") else { return .next }
            guard !isErrorIQ(buf, range) else {
                fail("bind failed: \(ByteSearch.string(buf, range).prefix(300))")
                return .stop
            }
            if sessionRequired {
                send("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
                phase = .awaitingSession
            } else {
                requestRoster()
            }
        case .awaitingSession:
            guard ByteSearch.equals(buf, name, "iq") else { return .next }
            requestRoster()
        case .awaitingRoster:
            guard ByteSearch.equals(buf, name, "iq") else { return .next }
            guard !isErrorIQ(buf, range) else {
                fail("roster get failed: \(ByteSearch.string(buf, range).prefix(300))")
                return .stop
            }
            run.rosterArrived(self, buf, range)
            phase = .ready
            if run.sendInitialPresence { send("<presence/>") }
            run.sessionReady(self, now: now)
        default:
            break
        }
        return .next
    }

    private func isErrorIQ(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard let type = ByteSearch.attribute(buf, range, " type=") else { return false }
        return ByteSearch.equals(buf, type, "error")
    }

    private func requestRoster() {
        send("<iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>")
        phase = .awaitingRoster
    }

    private func features(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Next {
        if run.options.tls && !secure {
            guard ByteSearch.find(buf, range, "<starttls") != nil else {
                fail("STARTTLS not offered")
                return .stop
            }
            send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            phase = .awaitingProceed
            return .next
        }
        if !authenticated {
            let offered = Set(ByteSearch.allChildTexts(buf, range, "<mechanism").map { ByteSearch.string(buf, $0) })
            guard let hash = run.options.mechanism.choose(from: offered) else {
                fail("no usable SASL mechanism (offered: \(offered.sorted().joined(separator: " ")))")
                return .stop
            }
            let exchange = SCRAMExchange(hash: hash, username: username, password: run.options.password)
            send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='\(hash.rawValue)'>\(exchange.clientFirstBase64)</auth>")
            self.exchange = exchange
            phase = .awaitingChallenge
            return .next
        }
        // RFC 6120 §7; RFC 3921 session establishment only where a server still requires it.
        if let session = ByteSearch.find(buf, range, "<session") {
            let rest = session..<range.upperBound
            sessionRequired = ByteSearch.find(buf, rest, "<optional") == nil
        }
        send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>\(run.options.resource)</resource></bind></iq>")
        phase = .awaitingBind
        return .next
    }

    private func sasl(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ name: Range<Int>) -> Next {
        let payloadRange = Self.payload(buf, range)
        let payload = payloadRange.flatMap { Data(base64Encoded: ByteSearch.string(buf, $0)) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        if ByteSearch.equals(buf, name, "failure") {
            fail("authentication failed: \(ByteSearch.string(buf, range).prefix(300))")
            return .stop
        }
        if ByteSearch.equals(buf, name, "challenge") {
            guard var exchange else { fail("unexpected challenge"); return .stop }
            if phase == .awaitingChallenge {
                do {
                    let final = try exchange.clientFinal(serverFirst: payload, cache: run.keyCache)
                    self.exchange = exchange
                    send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Data(final.utf8).base64EncodedString())</response>")
                    phase = .awaitingSuccess
                } catch {
                    fail("SCRAM: \(error)")
                    return .stop
                }
            } else {
                // Some servers send server-final in a challenge and expect an empty response.
                do { try exchange.verify(serverFinal: payload) } catch { fail("SCRAM: \(error)"); return .stop }
                send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            }
            return .next
        }
        if ByteSearch.equals(buf, name, "success") {
            guard phase == .awaitingSuccess, let exchange else { fail("unexpected success"); return .stop }
            if !payload.isEmpty {
                do { try exchange.verify(serverFinal: payload) } catch { fail("SCRAM: \(error)"); return .stop }
            }
            authenticated = true
            run.authenticated(self)
            self.exchange = nil
            return .restart
        }
        return .next
    }

    /// The character data of a SASL element (`<challenge …>DATA</challenge>`), or nil when empty.
    private static func payload(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int>? {
        let tagEnd = ByteSearch.startTagEnd(buf, range)
        guard tagEnd < range.upperBound, buf[tagEnd - 2] != 0x2F else { return nil }
        var end = tagEnd
        while end < range.upperBound && buf[end] != 0x3C { end += 1 }
        return end > tagEnd ? tagEnd..<end : nil
    }

    /// Answers the server's IQ gets (XEP-0199 pings) so held sessions stay alive.
    private func answerIQ(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        guard let type = ByteSearch.attribute(buf, range, " type="), ByteSearch.equals(buf, type, "get") else { return }
        let id = ByteSearch.attribute(buf, range, " id=").map { ByteSearch.string(buf, $0) } ?? ""
        let from = ByteSearch.attribute(buf, range, " from=").map { ByteSearch.string(buf, $0) }
        let to = from.map { " to='\($0)'" } ?? ""
        if ByteSearch.find(buf, range, "urn:xmpp:ping") != nil {
            send("<iq type='result' id='\(id)'\(to)/>")
        } else {
            send("<iq type='error' id='\(id)'\(to)><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
        }
    }
}

/// The channel handler: bytes in, to the session.
final class SessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let session: Session

    init(session: Session) {
        self.session = session
    }

    func handlerAdded(context: ChannelHandlerContext) {
        session.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        session.channelActive()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { session.received($0) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.channelInactive()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        session.fail("\(error)")
        context.close(promise: nil)
    }
}
