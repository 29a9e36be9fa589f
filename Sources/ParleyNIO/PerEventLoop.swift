import NIOCore
import Synchronization

/// One object per event loop, made on first use on that loop: for the loop-wide helpers
/// (`QuietStreamSweeper`, `TickFlusher`) that serve all of a loop's connections from one place.
///
/// The bound value keeps its loop alive, so a loop's identifier is never reused by another loop
/// while its entry exists.
final class PerEventLoop<Value: AnyObject>: Sendable {
    private let instances = Mutex<[ObjectIdentifier: NIOLoopBound<Value>]>([:])
    private let make: @Sendable (any EventLoop) -> Value

    init(_ make: @escaping @Sendable (any EventLoop) -> Value) {
        self.make = make
    }

    /// The calling loop's object. Call on that loop only.
    func current(on eventLoop: any EventLoop) -> Value {
        eventLoop.assertInEventLoop()
        return instances.withLock { instances in
            let key = ObjectIdentifier(eventLoop)
            if let existing = instances[key] { return existing }
            let created = NIOLoopBound(make(eventLoop), eventLoop: eventLoop)
            instances[key] = created
            return created
        }.value
    }
}
