#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Counts events per source address over a sliding minute (e.g. failed logins) and says when an
/// address has had too many. Memory is bounded: stale addresses are swept as new ones arrive.
public final class AddressRateLimiter: Sendable {
    private struct Window { var start: Int64; var count: Int }
    private let limit: Int
    private let windowSeconds: Int64
    private let now: @Sendable () -> Int64
    private let windows = Mutex<[String: Window]>([:])
    private let maxTrackedAddresses: Int

    /// `limit` 0 means unlimited.
    public init(limit: Int, windowSeconds: Int64 = 60, maxTrackedAddresses: Int = 100_000,
                now: @escaping @Sendable () -> Int64 = AddressRateLimiter.monotonicSeconds) {
        self.limit = limit
        self.windowSeconds = windowSeconds
        self.maxTrackedAddresses = maxTrackedAddresses
        self.now = now
    }

    public func isBlocked(_ address: String) -> Bool {
        guard limit > 0 else { return false }
        let time = now()
        return windows.withLock { table in
            guard let window = table[address], time - window.start < windowSeconds else { return false }
            return window.count >= limit
        }
    }

    public func record(_ address: String) {
        guard limit > 0 else { return }
        let time = now()
        windows.withLock { table in
            if table.count >= maxTrackedAddresses {
                table = table.filter { time - $0.value.start < windowSeconds }
            }
            if var window = table[address], time - window.start < windowSeconds {
                window.count += 1
                table[address] = window
            } else if table.count < maxTrackedAddresses {
                table[address] = Window(start: time, count: 1)
            }
        }
    }
}

extension AddressRateLimiter {
    /// Whole seconds on a monotonic clock (wall-clock jumps must not reset or extend windows).
    @Sendable public static func monotonicSeconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec)
    }
}
