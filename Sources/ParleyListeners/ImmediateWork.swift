import NIOCore
import Synchronization

/// Starts async work right away on the calling event loop (`Task.immediate`) instead of on another
/// thread: work that never suspends (routing to online sessions, a SQLite read) finishes before
/// `start` returns, and the caller goes on with its result without any thread hop. Work that does
/// suspend delivers its result back on the event loop later.
enum ImmediateWork {
    /// Runs `work`; calls `then` with its result on `eventLoop`, before returning when the work never
    /// suspended. Call it on `eventLoop`.
    static func start<Value: Sendable>(
        on eventLoop: any EventLoop,
        _ work: @escaping @Sendable () async throws -> Value,
        then: @escaping (Result<Value, any Error>) -> Void
    ) {
        eventLoop.assertInEventLoop()
        let handoff = Handoff<Value>()
        let later = NIOLoopBound(then, eventLoop: eventLoop)
        Task.immediate {
            let result: Result<Value, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            handoff.result = result
            if !handoff.finish() { eventLoop.execute { later.value(result) } }
        }
        if !handoff.leaveRunning(), let result = handoff.result {
            then(result)
        }
    }

    /// Runs `work`; returns true when it already finished, otherwise `resumed` runs on `eventLoop`
    /// when it does. For callers that loop over many items and must not recurse.
    static func finishedInline(
        on eventLoop: any EventLoop,
        _ work: @escaping @Sendable () async -> Void,
        resumed: @escaping () -> Void
    ) -> Bool {
        let handoff = Handoff<Void>()
        let later = NIOLoopBound(resumed, eventLoop: eventLoop)
        Task.immediate {
            await work()
            if !handoff.finish() { eventLoop.execute { later.value() } }
        }
        return !handoff.leaveRunning()
    }
}

/// Who comes second between the task finishing and its starter returning: the one that finds the
/// other already there knows how the work ended. The result is written before the task's
/// compare-and-exchange and read after the starter's, which orders the two accesses.
private final class Handoff<Value: Sendable>: @unchecked Sendable {
    private static var running: Int { 0 }
    private static var starterReturned: Int { 1 }
    private static var finished: Int { 2 }
    private let state = Atomic<Int>(0)
    var result: Result<Value, any Error>?

    /// The task finished; false when the starter had already returned (the task must resume it).
    func finish() -> Bool {
        state.compareExchange(expected: Self.running, desired: Self.finished, ordering: .acquiringAndReleasing).exchanged
    }

    /// The starter returns; false when the task had already finished.
    func leaveRunning() -> Bool {
        state.compareExchange(expected: Self.running, desired: Self.starterReturned, ordering: .acquiringAndReleasing).exchanged
    }
}
