import NIOCore
import NIOEmbedded
@testable import ParleyNIO
import Testing

/// The loop's sweeper reaches every stream it holds at each sweep, also while streams come and go
/// during the sweep itself, and lets go of those removed.
@Suite("Sweeping quiet streams")
struct QuietStreamSweeperTests {
    final class Member: QuietStreamMember {
        var quietStreamSlot = -1
        var sweeps = 0
        /// Run at this member's next sweep.
        var onSweep: (() -> Void)?

        func sweep(now: NIODeadline) {
            sweeps += 1
            onSweep?()
        }
    }

    @Test func everyMemberIsSweptOncePerSweepAndRemovedOnesNoMore() {
        let loop = EmbeddedEventLoop()
        let sweeper = QuietStreamSweeper.current(on: loop)
        let members = (0..<6).map { _ in Member() }
        members.forEach(sweeper.add)
        sweeper.add(members[0])
        #expect(sweeper.count == 6, "adding twice holds it once")

        loop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(members.map(\.sweeps) == [1, 1, 1, 1, 1, 1])

        sweeper.remove(members[1])
        sweeper.remove(members[1])
        sweeper.remove(members[5])
        #expect(sweeper.count == 4)
        loop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(members.map(\.sweeps) == [2, 1, 2, 2, 2, 1])
        #expect(members[1].quietStreamSlot == -1)

        members.forEach(sweeper.remove)
        #expect(sweeper.count == 0)
        loop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(members.map(\.sweeps) == [2, 1, 2, 2, 2, 1], "nothing held, nothing swept")
        try? loop.syncShutdownGracefully()
    }

    /// A stream's sweep can end it (an idle timeout) and with it another member of the same
    /// connection: the members left are all still swept in that same sweep.
    @Test func membersRemovedDuringASweepLeaveTheOthersSwept() {
        let loop = EmbeddedEventLoop()
        let sweeper = QuietStreamSweeper.current(on: loop)
        let members = (0..<8).map { _ in Member() }
        members.forEach(sweeper.add)
        // Swept from the last slot down: member 5 removes itself and member 1 (not yet swept), and
        // member 3 removes itself and member 7 (already swept). Member 6, swept first, is moved
        // into member 1's slot and swept again: at least once, never skipped.
        members[5].onSweep = { sweeper.remove(members[5]); sweeper.remove(members[1]) }
        members[3].onSweep = { sweeper.remove(members[3]); sweeper.remove(members[7]) }

        loop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(members.map(\.sweeps) == [1, 0, 1, 1, 1, 1, 2, 1])
        #expect(sweeper.count == 4)

        loop.advanceTime(by: QuietStreamSweeper.interval)
        #expect(members.map(\.sweeps) == [2, 0, 2, 1, 2, 1, 3, 1])
        members.forEach(sweeper.remove)
        try? loop.syncShutdownGracefully()
    }
}
