import NIOCore
import NIOPosix
import ParleyKernel
@testable import ParleyListeners
import Synchronization
import Testing
import XMPPProtocol
import XMPPXML

/// What a route closure saw: the ids in the order routing started and finished, and the most
/// routings ever in progress at once.
private final class RouteLog: Sendable {
    private struct State {
        var started: [String] = []
        var finished: [String] = []
        var inProgress = 0
        var mostInProgress = 0
    }
    private let state = Mutex(State())

    func start(_ id: String) {
        state.withLock { state in
            state.started.append(id)
            state.inProgress += 1
            state.mostInProgress = max(state.mostInProgress, state.inProgress)
        }
    }

    func finish(_ id: String) {
        state.withLock { state in
            state.finished.append(id)
            state.inProgress -= 1
        }
    }

    var started: [String] { state.withLock { $0.started } }
    var finished: [String] { state.withLock { $0.finished } }
    var mostInProgress: Int { state.withLock { $0.mostInProgress } }
}

private func message(_ id: String) -> Stanza {
    Stanza(XElement("message", namespace: "jabber:client", ["id": id]))!
}

private func waitUntil(_ condition: () -> Bool) async throws {
    for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
}

@Suite("Routing a stream's stanzas in order, inline when possible")
struct InOrderRouterTests {
    @Test func stanzasThatNeverSuspendAreRoutedBeforeSubmitReturns() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let log = RouteLog()
        let routedInline = try await loop.submit {
            let router = InOrderRouter(eventLoop: loop) { stanza -> RoutingRemainder? in
                let id = stanza.id ?? ""
                log.start(id)
                // "a" is routed synchronously; "b" and "c" have a remainder that runs but never suspends.
                if id == "a" {
                    log.finish(id)
                    return nil
                }
                return { log.finish(id) }
            }
            var inline: [Bool] = []
            for id in ["a", "b", "c"] {
                router.submit(message(id))
                inline.append(log.finished.last == id && router.waiting == 0)
            }
            return inline
        }.get()
        #expect(routedInline == [true, true, true])
        #expect(log.finished == ["a", "b", "c"])
    }

    @Test func aSuspendingStanzaHoldsBackTheOnesAfterIt() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let log = RouteLog()
        let router = try await loop.submit {
            NIOLoopBound(InOrderRouter(eventLoop: loop) { stanza -> RoutingRemainder? in
                let id = stanza.id ?? ""
                log.start(id)
                // Every other stanza waits, as a storage write would.
                guard id.hasPrefix("slow") else {
                    log.finish(id)
                    return nil
                }
                return {
                    try? await Task.sleep(for: .milliseconds(20))
                    log.finish(id)
                }
            }, eventLoop: loop)
        }.get()
        let ids = ["fast1", "slow1", "fast2", "fast3", "slow2", "fast4"]
        let waitingAfterSubmit = try await loop.submit {
            for id in ids { router.value.submit(message(id)) }
            return router.value.waiting
        }.get()
        #expect(waitingAfterSubmit == 4, "fast1 done inline, slow1 in progress, four waiting behind it")
        try await waitUntil { log.finished.count == ids.count }
        #expect(log.started == ids)
        #expect(log.finished == ids)
        #expect(log.mostInProgress == 1, "never two routings of one stream at once")
    }

    @Test func immediateWorkHandsBackItsResultInlineOrLaterOnTheLoop() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let inline = try await loop.submit {
            var value: Int?
            ImmediateWork.start(on: loop, { 42 }, then: { value = try? $0.get() })
            return value
        }.get()
        #expect(inline == 42)

        let received = Mutex<(Int?, Bool)>((nil, false))
        let returnedBeforeResult = try await loop.submit {
            ImmediateWork.start(on: loop, {
                try await Task.sleep(for: .milliseconds(20))
                return 7
            }, then: { result in
                received.withLock { $0 = (try? result.get(), loop.inEventLoop) }
            })
            return received.withLock { $0.0 == nil }
        }.get()
        #expect(returnedBeforeResult)
        try await waitUntil { received.withLock { $0.0 != nil } }
        #expect(received.withLock { $0.0 } == 7)
        #expect(received.withLock { $0.1 }, "the result comes back on the event loop")
    }
}
