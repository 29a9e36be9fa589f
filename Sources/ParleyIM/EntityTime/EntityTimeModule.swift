import Foundation
import ParleyKernel
import XMPPProtocol
import XMPPXML

/// Entity time (XEP-0202) of the server: its UTC time and its offset from UTC.
public struct EntityTimeModule: Module {
    public static let namespace = "urn:xmpp:time"
    public let name = "entity-time"
    private let timeZone: TimeZone
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - timeZone: whose offset `<tzo/>` reports; the host's by default.
    ///   - now: the clock (injected by tests).
    public init(timeZone: TimeZone = .current, now: @escaping @Sendable () -> Date = { Date() }) {
        self.timeZone = timeZone
        self.now = now
    }

    public func register(in registrar: ModuleRegistrar) {
        registrar.advertise(feature: Self.namespace)
        let timeZone = self.timeZone
        let now = self.now
        registrar.handleIQ("time", namespace: Self.namespace, types: [.get], target: .server) { _ in
            .success(Self.reply(at: now(), in: timeZone))
        }
    }

    /// `<time><tzo/><utc/></time>` (XEP-0202 §3), both REQUIRED.
    static func reply(at date: Date, in timeZone: TimeZone) -> XElement {
        var tzo = XElement("tzo", namespace: Self.namespace)
        tzo.append(text: offsetString(seconds: timeZone.secondsFromGMT(for: date)))
        var utc = XElement("utc", namespace: Self.namespace)
        utc.append(text: utcString(date))
        return XElement("time", namespace: Self.namespace, children: [.element(tzo), .element(utc)])
    }

    /// XEP-0082 §3.2 TZD as ±hh:mm (XEP-0202 §3 example "-06:00"; UTC is "+00:00").
    static func offsetString(seconds: Int) -> String {
        let sign = seconds < 0 ? "-" : "+"
        let minutes = abs(seconds) / 60
        return sign + twoDigits(minutes / 60) + ":" + twoDigits(minutes % 60)
    }

    /// XEP-0082 §3.3 DateTime in UTC, whole seconds: CCYY-MM-DDThh:mm:ssZ.
    static func utcString(_ date: Date) -> String {
        let total = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondOfDay = Int(total - days * 86_400)
        // Civil date from days since 1970-01-01 (H. Hinnant, "chrono-compatible low-level date algorithms").
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText
            + "-" + twoDigits(month) + "-" + twoDigits(day)
            + "T" + twoDigits(secondOfDay / 3600) + ":" + twoDigits(secondOfDay / 60 % 60) + ":" + twoDigits(secondOfDay % 60) + "Z"
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
