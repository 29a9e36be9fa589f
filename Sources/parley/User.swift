import ArgumentParser
import Foundation
import ParleyApp

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage accounts.",
        subcommands: [Add.self, Passwd.self, Delete.self, List.self])

    static func administration(_ options: ConfigOption) throws -> AccountAdministration {
        let config = try ConfigLoading.load(options)
        let store = try ParleyServer.openAccountStore(config)
        return AccountAdministration(store: store, hosts: Set(config.hosts.map(\.name)), scramIterations: config.sasl.scramIterations)
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address, e.g. alice@localhost.") var jid: String
        @Option(help: "The password (prompted for when omitted; read from standard input when it is not a terminal).") var password: String?

        func run() async throws {
            let admin = try User.administration(options)
            let secret = try password ?? PasswordPrompt.read(confirm: true)
            do {
                let created = try await admin.add(jid, password: secret, now: Int64(Date().timeIntervalSince1970))
                print("created \(created)")
            } catch let failure as AccountAdministration.Failure {
                throw CLIError(failure.description)
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an account's password.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address.") var jid: String
        @Option(help: "The new password (prompted for when omitted).") var password: String?

        func run() async throws {
            let admin = try User.administration(options)
            let secret = try password ?? PasswordPrompt.read(confirm: true)
            do {
                try await admin.changePassword(jid, password: secret)
                print("password changed for \(jid)")
            } catch let failure as AccountAdministration.Failure {
                throw CLIError(failure.description)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an account.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The account's address.") var jid: String

        func run() async throws {
            let admin = try User.administration(options)
            do {
                try await admin.delete(jid)
                print("deleted \(jid)")
            } catch let failure as AccountAdministration.Failure {
                throw CLIError(failure.description)
            }
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
}
