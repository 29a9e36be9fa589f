import NIOCore
import Synchronization

/// Releases the parser state of quiet streams (`XMLStreamDecoder.releaseIfQuiet`): one sweep every
/// half second for all the streams of an event loop (so a stream is released 2 to 2.5 s after its
/// last input; a later release raises the peak of a login storm, and RSS keeps the peak).
///
/// A timer per connection did the same job but woke the loop, at moderate traffic, about as often
/// as the stanzas themselves did (each active stream re-armed its timer every two seconds), and
/// kept a scheduled task per connection. Use only on the loop it belongs to.
final class QuietStreamSweeper {
    /// One per event loop. The bound value keeps its loop alive, so a loop's identifier is never
    /// reused by another loop while its entry exists.
    private static let sweepers = Mutex<[ObjectIdentifier: NIOLoopBound<QuietStreamSweeper>]>([:])
    static let interval = TimeAmount.milliseconds(500)

    private struct Member {
        weak var decoder: XMLStreamDecoder?
    }

    private let eventLoop: any EventLoop
    private var members: [ObjectIdentifier: Member] = [:]
    private var task: RepeatedTask?

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// The sweeper of the calling event loop.
    static func current(on eventLoop: any EventLoop) -> QuietStreamSweeper {
        eventLoop.assertInEventLoop()
        return sweepers.withLock { sweepers in
            let key = ObjectIdentifier(eventLoop)
            if let existing = sweepers[key] { return existing }
            let created = NIOLoopBound(QuietStreamSweeper(eventLoop: eventLoop), eventLoop: eventLoop)
            sweepers[key] = created
            return created
        }.value
    }

    func add(_ decoder: XMLStreamDecoder) {
        members[ObjectIdentifier(decoder)] = Member(decoder: decoder)
        guard task == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        task = eventLoop.scheduleRepeatedTask(initialDelay: Self.interval, delay: Self.interval) { _ in
            bound.value.sweep()
        }
    }

    func remove(_ decoder: XMLStreamDecoder) {
        members[ObjectIdentifier(decoder)] = nil
        if members.isEmpty {
            task?.cancel()
            task = nil
        }
    }

    private func sweep() {
        let now = NIODeadline.now()
        for (key, member) in members {
            guard let decoder = member.decoder else {
                members[key] = nil
                continue
            }
            decoder.releaseIfQuiet(now: now)
        }
    }
}
