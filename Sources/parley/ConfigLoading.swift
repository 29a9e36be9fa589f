import Foundation
import ParleyConfig

enum ConfigLoading {
    /// The configuration named by `--config` (or `PARLEY_CONFIG`), else the built-in default.
    static func load(_ option: ConfigOption) throws -> ServerConfig {
        if let path = option.config ?? ProcessInfo.processInfo.environment["PARLEY_CONFIG"] {
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError("configuration file not found: \(path)")
            }
            do {
                return try ServerConfig.load(path: path)
            } catch {
                throw CLIError("invalid configuration \(path):\n\(error.description)")
            }
        }
        let directory = FileManager.default.currentDirectoryPath + "/data"
        return ServerConfig.default(dataDirectory: directory)
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
