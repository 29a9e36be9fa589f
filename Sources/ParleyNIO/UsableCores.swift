#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// How many cores this process may run on: its CPU affinity mask (`taskset`, cpusets) when that is
/// narrower than NIO's `System.coreCount`, which counts the machine's cores and the cgroup quota only.
/// One event loop per usable core: more loops than cores only add context switches and cross-loop
/// hand-offs to every stanza routed between two sessions.
public enum UsableCores {
    public static var count: Int {
        let machine = System.coreCount
        guard let allowed = affinityCount() else { return machine }
        return max(1, min(machine, allowed))
    }

    /// Bits set in `Cpus_allowed` of /proc/self/status (a comma-separated hex mask), Linux only.
    static func affinityCount(status: String? = nil) -> Int? {
        guard let text = status ?? readStatus() else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            var bits = 0
            for character in line.dropFirst("Cpus_allowed:".count) {
                guard let digit = character.hexDigitValue else { continue }
                bits += digit.nonzeroBitCount
            }
            return bits > 0 ? bits : nil
        }
        return nil
    }

    private static func readStatus() -> String? {
        #if os(Linux)
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var result = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            result += String(cString: buffer)
        }
        return result
        #else
        return nil
        #endif
    }
}
