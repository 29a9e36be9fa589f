import NIOCore

/// Something a stream does when it has been quiet (or has not written) for a while, checked by the
/// event loop's `QuietStreamSweeper`. Called on the member's event loop.
public protocol QuietStreamMember: AnyObject {
    func sweep(now: NIODeadline)
}

/// One sweep every half second over all the streams of an event loop, for what they do when quiet:
/// release the parser state (`XMLStreamDecoder`, so a stream is released 2 to 2.5 s after its last
/// input; a later release raises the peak of a login storm, and RSS keeps the peak), close an idle
/// connection or send a whitespace keepalive (the C2S handler).
///
/// A timer per connection did the same job but woke the loop, at moderate traffic, about as often
/// as the stanzas themselves did (each active stream re-armed its timer every two seconds), and
/// kept scheduled tasks per connection (NIO's `IdleStateHandler` keeps two, and wraps every write
/// in a promise to note when it completed). Use only on the loop it belongs to.
public final class QuietStreamSweeper {
    private static let sweepers = PerEventLoop { QuietStreamSweeper(eventLoop: $0) }
    public static let interval = TimeAmount.milliseconds(500)

    private struct Member {
        weak var member: (any QuietStreamMember)?
    }

    private let eventLoop: any EventLoop
    private var members: [ObjectIdentifier: Member] = [:]
    private var task: RepeatedTask?

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// The sweeper of the calling event loop.
    public static func current(on eventLoop: any EventLoop) -> QuietStreamSweeper {
        sweepers.current(on: eventLoop)
    }

    public func add(_ member: any QuietStreamMember) {
        members[ObjectIdentifier(member)] = Member(member: member)
        guard task == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        task = eventLoop.scheduleRepeatedTask(initialDelay: Self.interval, delay: Self.interval) { _ in
            bound.value.sweep()
        }
    }

    public func remove(_ member: any QuietStreamMember) {
        members[ObjectIdentifier(member)] = nil
        if members.isEmpty {
            task?.cancel()
            task = nil
        }
    }

    private func sweep() {
        let now = NIODeadline.now()
        for (key, entry) in members {
            guard let member = entry.member else {
                members[key] = nil
                continue
            }
            member.sweep(now: now)
        }
    }
}
