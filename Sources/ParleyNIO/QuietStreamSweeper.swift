import NIOCore

/// Something a stream does when it has been quiet (or has not written) for a while, checked by the
/// event loop's `QuietStreamSweeper`. Called on the member's event loop.
///
/// A member is held strongly from `add` to `remove`: it must call `remove` when its stream ends
/// (`channelInactive`, `handlerRemoved`).
public protocol QuietStreamMember: AnyObject {
    func sweep(now: NIODeadline)
    /// Where the sweeper keeps the member, -1 when it keeps it nowhere. Set only by the sweeper;
    /// members start with -1.
    var quietStreamSlot: Int { get set }
}

/// One sweep every half second over all the streams of an event loop, for what they do when quiet:
/// release the parser state (`XMLStreamInput`, so a stream is released 2 to 2.5 s after its last
/// input), close an idle connection or send a whitespace keepalive (the C2S handler).
///
/// The parser state kept by streams is bounded too: when a sweep finds more than
/// `crowdedParserCount` streams holding theirs, the next one releases the state of streams quiet
/// for `crowdedReleaseAfter`. A login storm (thousands of new streams a second, each parser about
/// 10 KB) otherwise holds two seconds' worth of parsers at once: while parsers took their memory
/// from the heap, it stayed there after they were freed (2 KB more resident memory per idle session
/// after 2500 logins/s); now it bounds the storm's peak. Under that count a busy stream keeps its
/// parser for two seconds of quiet, since rebuilding one costs more than a stanza's parse.
///
/// A timer per connection did the same job but woke the loop, at moderate traffic, about as often
/// as the stanzas themselves did (each active stream re-armed its timer every two seconds), and
/// kept scheduled tasks per connection (NIO's `IdleStateHandler` keeps two, and wraps every write
/// in a promise to note when it completed). Use only on the loop it belongs to.
public final class QuietStreamSweeper {
    private static let sweepers = PerEventLoop { QuietStreamSweeper(eventLoop: $0) }
    public static let interval = TimeAmount.milliseconds(500)

    private let eventLoop: any EventLoop
    /// In no particular order; each member knows its slot, so removal swaps the last one into it.
    /// An array of strong references rather than a dictionary of weak ones: a sweep reads every
    /// member, and the hashing, weak loads and side tables made the sweep about 2 % of the CPU of a
    /// loop with 2000 streams at 1000 messages/s.
    private var members: ContiguousArray<any QuietStreamMember> = []
    private var task: RepeatedTask?

    /// Past this many streams holding parser state (about 16 MB of it), quiet streams release it
    /// sooner. A variable for tests.
    var crowdedParserCount = 2048
    public static let crowdedReleaseAfter = TimeAmount.milliseconds(500)
    /// Whether the last sweep found more than `crowdedParserCount` parsers held.
    public private(set) var crowded = false
    private var parsersHeld = 0

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// The sweeper of the calling event loop.
    public static func current(on eventLoop: any EventLoop) -> QuietStreamSweeper {
        sweepers.current(on: eventLoop)
    }

    public func add(_ member: any QuietStreamMember) {
        guard !holds(member) else { return }
        member.quietStreamSlot = members.count
        members.append(member)
        guard task == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        task = eventLoop.scheduleRepeatedTask(initialDelay: Self.interval, delay: Self.interval) { _ in
            bound.value.sweep()
        }
    }

    public func remove(_ member: any QuietStreamMember) {
        guard holds(member) else { return }
        let slot = member.quietStreamSlot
        member.quietStreamSlot = -1
        let last = members.removeLast()
        if slot < members.count {
            members[slot] = last
            last.quietStreamSlot = slot
        }
        if members.isEmpty {
            task?.cancel()
            task = nil
        }
    }

    /// How many members are held (for tests).
    var count: Int { members.count }

    /// Called by a member during its sweep when it still holds parser state afterwards.
    public func noteParserHeld() {
        parsersHeld += 1
    }

    private func holds(_ member: any QuietStreamMember) -> Bool {
        let slot = member.quietStreamSlot
        return slot >= 0 && slot < members.count && members[slot] === member
    }

    /// From the last slot down: a member that removes itself (or another) moves the last member,
    /// already swept, into the freed slot, so every member present for the whole sweep is swept,
    /// and one moved below the current slot is swept twice (the sweeps compare times, so a second
    /// one with the same `now` finds nothing more to do).
    private func sweep() {
        let now = NIODeadline.now()
        var slot = members.count
        while slot > 0 {
            slot -= 1
            // Removals during a member's sweep can shorten the array past the next slot.
            guard slot < members.count else { continue }
            // Read out first: the member's sweep may change `members`.
            let member = members[slot]
            member.sweep(now: now)
        }
        crowded = parsersHeld > crowdedParserCount
        parsersHeld = 0
    }
}
