import ArgumentParser
import ParleyConfig

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with the configuration file.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file and report every problem.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let config = try ConfigLoading.load(options)
            print("configuration OK: hosts \(config.hosts.map(\.name).joined(separator: ", ")), data directory \(config.dataDirectory)")
        }
    }
}
