import ArgumentParser
import Foundation
import Logging
import ParleyApp
import ParleyIM
import ParleyStorage
import XMPPAddress

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage accounts.",
        subcommands: [Add.self, Passwd.self, Delete.self, List.self, Import.self, Roster.self, AddContact.self, Offline.self])

    /// The server's stores and modules, without its listeners: what the account commands act through.
    static func composition(_ options: ConfigOption) throws -> ServerComposition {
        let config = try ConfigLoading.load(options)
        var logger = Logger(label: "parley-cli")
        logger.logLevel = .error
        return try ServerComposition(config: config, stores: try SQLiteStores(config: config), logger: logger)
    }

    static func administration(_ options: ConfigOption) throws -> AccountAdministration {
        let config = try ConfigLoading.load(options)
        return AccountAdministration(kernel: try composition(options).kernel, scramIterations: config.sasl.scramIterations)
    }

    /// `address` as a normalised account on a served host (the account need not exist).
    static func account(_ address: String, in composition: ServerComposition) async throws -> JID {
        let admin = AccountAdministration(kernel: composition.kernel, scramIterations: SASLDefaults.minimumIterations)
        return try await administer { try admin.userJID(address) }
    }

    /// Runs an administration call, turning its failures into a clear message and exit code 1.
    static func administer<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as AccountAdministration.Failure {
            throw CLIError(failure.description)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address, e.g. alice@localhost.") var jid: String
        @Option(help: "The password (prompted for when omitted; read from standard input when it is not a terminal).") var password: String?

        func run() async throws {
            let admin = try User.administration(options)
            _ = try await User.administer { try admin.userJID(jid) }
            let secret = try password ?? PasswordPrompt.read(confirm: true)
            let created = try await User.administer { try await admin.add(jid, password: secret, now: Int64(Date().timeIntervalSince1970)) }
            print("created \(created)")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an account's password.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address.") var jid: String
        @Option(help: "The new password (prompted for when omitted).") var password: String?

        func run() async throws {
            let admin = try User.administration(options)
            _ = try await User.administer { try admin.userJID(jid) }
            let secret = try password ?? PasswordPrompt.read(confirm: true)
            try await User.administer { try await admin.changePassword(jid, password: secret) }
            print("password changed for \(jid)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account and everything stored for it.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address.") var jid: String

        func run() async throws {
            let config = try ConfigLoading.load(options)
            let admin = try User.administration(options)
            let user = try await User.administer { try admin.userJID(jid) }
            // A running server deletes it itself: it closes the account's sessions and tells its contacts.
            switch await AdminClient.deleteUser(user, dataDirectory: config.dataDirectory) {
            case .done(removed: true, let sessions):
                print("deleted \(user); \(sessions) online session(s) closed")
                return
            case .done(removed: false, _):
                throw CLIError("\(user) does not exist")
            case .refused(let reason):
                throw CLIError(reason)
            case nil:
                break
            }
            try await User.administer { try await admin.delete(jid) }
            // A server that did not answer in time must not go on using the deleted account's roster.
            await AdminClient.reportRosterChanges(of: [user], dataDirectory: config.dataDirectory)
            print("deleted \(jid)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Only this host.") var host: String?

        func run() async throws {
            let admin = try User.administration(options)
            for jid in try await admin.list(host: host?.lowercased()) { print(jid) }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create many accounts from a file: one per line, 'jid password [contact …]'; contacts become mutual subscriptions.",
            discussion: "Existing accounts are left as they are. The whole file is checked before anything is written.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The file to read ('-' for standard input).") var file: String

        func run() async throws {
            let config = try ConfigLoading.load(options)
            let composition = try User.composition(options)
            let admin = AccountAdministration(kernel: composition.kernel, scramIterations: config.sasl.scramIterations)
            let importer = AccountImport(administration: admin, rosters: composition.stores.rosters)
            let text: String
            if file == "-" {
                text = AnySequence { AnyIterator { readLine(strippingNewline: false) } }.joined()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
                text = String(decoding: contents, as: UTF8.self)
            }
            let lines = try await User.administer { try importer.parse(text) }
            let summary = try await User.administer {
                try await importer.run(lines, now: Int64(Date().timeIntervalSince1970), parallelism: ProcessInfo.processInfo.activeProcessorCount)
            }
            if summary.contactPairs > 0 {
                await AdminClient.reportRosterChanges(of: nil, dataDirectory: config.dataDirectory)
            }
            print("imported \(summary.created) account(s), \(summary.skipped) already existed, \(summary.contactPairs) contact pair(s)")
        }
    }

    struct Roster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an account's roster (contacts, subscriptions, groups).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address.") var jid: String

        func run() async throws {
            let composition = try User.composition(options)
            let user = try await User.account(jid, in: composition)
            guard await composition.kernel.accountExists(user) else { throw CLIError("\(user) does not exist") }
            let roster = try await composition.stores.rosters.roster(of: user)
            print("roster of \(user) (version \(roster.version)): \(roster.items.count) contact(s)")
            for item in roster.items {
                var line = "\(item.jid)  subscription=\(item.subscription.rawValue)"
                if item.askSubscribe { line += " ask=subscribe" }
                if let name = item.name { line += "  name=\"\(name)\"" }
                if !item.groups.isEmpty { line += "  groups=\(item.groups.joined(separator: ","))" }
                print(line)
            }
            for pending in try await composition.stores.rosters.pendingRequests(of: user) where pending.pendingIn != nil {
                print("pending request from \(pending.pendingIn?[attribute: "from"] ?? "?")")
            }
        }
    }

    struct AddContact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-contact",
            abstract: "Make two local accounts contacts of each other, with presence subscriptions both ways.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The first account.") var first: String
        @Argument(help: "The second account.") var second: String

        func run() async throws {
            let config = try ConfigLoading.load(options)
            let composition = try User.composition(options)
            let a = try await User.account(first, in: composition)
            let b = try await User.account(second, in: composition)
            guard a != b else { throw CLIError("an account cannot be its own contact") }
            for user in [a, b] where !(await composition.kernel.accountExists(user)) {
                throw CLIError("\(user) does not exist")
            }
            // A running server does it itself: online clients get roster pushes and each other's presence.
            switch await AdminClient.addContacts(a, b, dataDirectory: config.dataDirectory) {
            case .done:
                print("\(a) and \(b) are now contacts (subscription both)")
                return
            case .refused(let reason):
                throw CLIError(reason)
            case nil:
                break
            }
            _ = try await composition.stores.rosters.makeMutualContacts(a, b)
            await AdminClient.reportRosterChanges(of: [a, b], dataDirectory: config.dataDirectory)
            print("\(a) and \(b) are now contacts (subscription both)")
        }
    }

    struct Offline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count, or with --clear delete, an account's stored offline messages.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address.") var jid: String
        @Flag(help: "Delete the stored messages.") var clear = false

        func run() async throws {
            let composition = try User.composition(options)
            let user = try await User.account(jid, in: composition)
            let offline = OfflineMessageAdministration(store: composition.stores.offline)
            if clear {
                let removed = try await offline.deleteAll(for: user)
                print("deleted \(removed) offline message(s) of \(user)")
            } else {
                print("\(try await offline.count(for: user)) offline message(s) stored for \(user)")
            }
        }
    }
}

/// Account checks that derive no keys need no particular SCRAM iteration count.
enum SASLDefaults {
    static let minimumIterations = 4096
}
