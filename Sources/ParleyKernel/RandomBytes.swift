#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random 64-bit words from the kernel's CSPRNG, fetched 4 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes one getrandom(2) call per 64-bit draw; ids drawn for every
/// routed message (XEP-0359 stanza ids) made that a measurable share of the message path. Buffered
/// output of the same generator is just as unpredictable. The pool is refilled from /dev/urandom
/// (the Glibc module does not export getrandom), falling back to the system generator.
public struct BufferedRandomGenerator: RandomNumberGenerator, Sendable {
    private static let pool = Mutex(Pool())

    public init() {}

    public mutating func next() -> UInt64 {
        Self.pool.withLock { $0.next() }
    }

    private struct Pool: ~Copyable {
        static let words = 512
        var buffer = [UInt64](repeating: 0, count: Pool.words)
        var index = Pool.words

        mutating func next() -> UInt64 {
            if index == Self.words { refill() }
            defer { index += 1 }
            return buffer[index]
        }

        private mutating func refill() {
            index = 0
            #if os(Linux)
            let byteCount = Self.words * MemoryLayout<UInt64>.size
            let device = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            if device >= 0 {
                defer { close(device) }
                let filled = buffer.withUnsafeMutableBytes { bytes in read(device, bytes.baseAddress, byteCount) }
                if filled == byteCount { return }
            }
            #endif
            var system = SystemRandomNumberGenerator()
            for position in buffer.indices { buffer[position] = system.next() }
        }
    }
}
