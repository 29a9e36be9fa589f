import ArgumentParser

@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Parley, an XMPP (Jabber) server.",
        subcommands: [Run.self, User.self, Config.self, S2S.self])
}

/// `--config PATH`, shared by every command that needs the configuration.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML). Without one, Parley serves 'localhost' from ./data.")
    var config: String?
}
