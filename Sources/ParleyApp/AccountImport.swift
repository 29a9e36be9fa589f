import ParleyStorage
import XMPPAddress
import XMPPSASL

/// Bulk account creation for operators migrating users and for benchmarks (`parley user import`).
///
/// Input: one account per line, `jid password [contact …]`; blank lines and `#` comments are
/// skipped. Listed contacts become mutual subscriptions (RFC 6121 "both") once both accounts exist.
public struct AccountImport: Sendable {
    public struct Line: Sendable, Hashable {
        public var jid: JID
        public var password: String
        public var contacts: [JID]
    }

    public struct Summary: Sendable, Hashable {
        public var created = 0
        public var skipped = 0
        public var contactPairs = 0
    }

    public let administration: AccountAdministration
    public let rosters: any RosterStore

    public init(administration: AccountAdministration, rosters: any RosterStore) {
        self.administration = administration
        self.rosters = rosters
    }

    /// Parses the whole file first, so a bad line stops the import before anything is written.
    public func parse(_ text: String) throws(AccountAdministration.Failure) -> [Line] {
        var lines: [Line] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { continue }
            guard fields.count >= 2 else { throw .invalidImportLine(number + 1, "expected: jid password [contact …]") }
            let jid: JID
            do { jid = try administration.userJID(fields[0]) } catch { throw .invalidImportLine(number + 1, error.description) }
            var contacts: [JID] = []
            for field in fields.dropFirst(2) {
                guard let contact = try? JID(field), contact.localpart != nil, contact.resourcepart == nil, contact != jid else {
                    throw .invalidImportLine(number + 1, "'\(field)' is not a contact address")
                }
                contacts.append(contact)
            }
            lines.append(Line(jid: jid, password: fields[1], contacts: contacts))
        }
        return lines
    }

    /// Creates the accounts (SCRAM keys derived in parallel, stored in batches), then the contacts.
    public func run(_ lines: [Line], now: Int64, parallelism: Int) async throws -> Summary {
        var summary = Summary()
        let iterations = administration.scramIterations
        let batchSize = 500
        var start = 0
        while start < lines.count {
            let batch = Array(lines[start..<min(start + batchSize, lines.count)])
            start += batchSize
            let records = try await withThrowingTaskGroup(of: [AccountRecord].self) { group in
                let chunk = max(1, (batch.count + parallelism - 1) / parallelism)
                for offset in stride(from: 0, to: batch.count, by: chunk) {
                    let slice = batch[offset..<min(offset + chunk, batch.count)]
                    group.addTask {
                        try slice.map { line in
                            guard let credentials = try? SCRAMCredential.generateAll(password: line.password, iterations: iterations) else {
                                throw AccountAdministration.Failure.invalidPassword
                            }
                            return AccountRecord(username: line.jid.localpart!, host: line.jid.domainpart, credentials: credentials, createdAt: now)
                        }
                    }
                }
                var all: [AccountRecord] = []
                for try await part in group { all += part }
                return all
            }
            let created = try await administration.store.createMany(records)
            summary.created += created
            summary.skipped += records.count - created
        }
        var done = Set<[JID]>()
        for line in lines {
            for contact in line.contacts {
                let pair = [line.jid, contact].sorted { $0.description < $1.description }
                guard done.insert(pair).inserted else { continue }
                guard await administration.kernel.accountExists(contact) else {
                    throw AccountAdministration.Failure.noSuchUser(contact.description)
                }
                _ = try await rosters.makeMutualContacts(line.jid, contact)
                summary.contactPairs += 1
            }
        }
        return summary
    }
}
