#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Nanoseconds on the monotonic clock.
@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// A log-linear histogram of nanosecond values: 32 buckets per power of two (about 3% precision),
/// constant memory, cheap enough to record every delivered message.
struct LatencyHistogram: Sendable {
    private var counts = [UInt64](repeating: 0, count: 64 + 58 * 32 + 32)
    private(set) var count: UInt64 = 0
    private(set) var max: UInt64 = 0
    private(set) var sum: Double = 0

    @inline(__always)
    private static func bucket(_ value: UInt64) -> Int {
        if value < 64 { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount
        return 64 + (exponent - 6) * 32 + Int((value >> UInt64(exponent - 5)) & 31)
    }

    private static func lowerBound(_ bucket: Int) -> UInt64 {
        if bucket < 64 { return UInt64(bucket) }
        let exponent = (bucket - 64) / 32 + 6
        let sub = UInt64((bucket - 64) % 32)
        return (UInt64(1) << UInt64(exponent)) | (sub << UInt64(exponent - 5))
    }

    @inline(__always)
    mutating func record(_ value: UInt64) {
        counts[Self.bucket(value)] &+= 1
        count &+= 1
        sum += Double(value)
        if value > max { max = value }
    }

    mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        count += other.count
        sum += other.sum
        max = Swift.max(max, other.max)
    }

    /// The value at quantile `q` (0…1), as the bucket's lower bound (the maximum for q = 1).
    func quantile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        if q >= 1 { return max }
        let rank = UInt64((Double(count) * q).rounded(.up))
        var seen: UInt64 = 0
        for (bucket, n) in counts.enumerated() where n > 0 {
            seen += n
            if seen >= Swift.max(rank, 1) { return Swift.min(Self.lowerBound(bucket), max) }
        }
        return max
    }

    /// p50/p99/max/mean in milliseconds, for the JSON line.
    func summary(prefix: String) -> [(String, JSONValue)] {
        [
            ("\(prefix)count", .int(Int(count))),
            ("\(prefix)p50_ms", .double(Double(quantile(0.5)) / 1e6)),
            ("\(prefix)p99_ms", .double(Double(quantile(0.99)) / 1e6)),
            ("\(prefix)max_ms", .double(Double(max) / 1e6)),
            ("\(prefix)mean_ms", .double(count > 0 ? sum / Double(count) / 1e6 : 0)),
        ]
    }
}

/// CPU time and resident memory of a process, from /proc (Linux).
struct ProcessSample: Sendable {
    var cpuSeconds: Double
    var rssKB: Int
    var threads: Int

    static func read(pid: Int32) -> ProcessSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15 (proc(5)).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var rss = 0
        var threads = 0
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") {
                if line.hasPrefix("VmRSS:") {
                    rss = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
                } else if line.hasPrefix("Threads:") {
                    threads = Int(line.split(separator: "\t", omittingEmptySubsequences: true).dropFirst().first?
                        .trimmingCharacters(in: .whitespaces) ?? "") ?? 0
                }
            }
        }
        return ProcessSample(cpuSeconds: (utime + stime) / ticks, rssKB: rss, threads: threads)
    }

    /// This process's own CPU time (user + system), to show whether the load generator kept up.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// A JSON value for the result lines (kept ordered, unlike a dictionary).
enum JSONValue: Sendable {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case null
    case object([(String, JSONValue)])
    case array([JSONValue])

    func write(into out: inout String) {
        switch self {
        case .int(let v): out += String(v)
        case .double(let v):
            if v.isFinite {
                out += String(format: "%.6g", v)
            } else {
                out += "null"
            }
        case .string(let s):
            out += "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        out += String(format: "\\u%04x", scalar.value)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            out += "\""
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += ", " }
                JSONValue.string(key).write(into: &out)
                out += ": "
                value.write(into: &out)
            }
            out += "}"
        case .array(let values):
            out += "["
            for (i, value) in values.enumerated() {
                if i > 0 { out += ", " }
                value.write(into: &out)
            }
            out += "]"
        }
    }

    var text: String {
        var out = ""
        write(into: &out)
        return out
    }
}
