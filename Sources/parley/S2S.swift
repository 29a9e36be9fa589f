import ArgumentParser
import Foundation
import ParleyApp

struct S2S: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s2s",
        abstract: "Federation (server-to-server) state of the running server.",
        subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List authenticated links to other servers: remote domain, direction, method.")
        @OptionGroup var options: ConfigOption
        @Flag(help: "Print the server's JSON answer as it is.") var json = false

        func run() async throws {
            let config = try ConfigLoading.load(options)
            let answer: String
            do {
                answer = try await AdminClient.request("s2s list", dataDirectory: config.dataDirectory)
            } catch {
                throw CLIError("cannot reach the running server through \(AdminClient.socketPath(dataDirectory: config.dataDirectory)): \(error)")
            }
            if json {
                print(answer)
                return
            }
            guard let data = answer.data(using: .utf8),
                  let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
                throw CLIError("unexpected answer from the server: \(answer)")
            }
            if entries.isEmpty {
                print("no server-to-server links")
                return
            }
            print("REMOTE\tLOCAL\tDIRECTION\tAUTH\tTLS")
            for entry in entries {
                print("\(entry["remote"] ?? "?")\t\(entry["local"] ?? "?")\t\(entry["direction"] ?? "?")\t\(entry["method"] ?? "?")\t\((entry["secure"] as? Bool) == true ? "yes" : "no")")
            }
        }
    }
}
