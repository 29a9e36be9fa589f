#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum PasswordPrompt {
    /// Reads a password without echo from the terminal, or one line from standard input when it is not a terminal.
    static func read(confirm: Bool) throws -> String {
        guard isatty(STDIN_FILENO) != 0 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw CLIError("no password given on standard input")
            }
            return line
        }
        let first = try readHidden("Password: ")
        if confirm {
            let second = try readHidden("Repeat password: ")
            guard first == second else { throw CLIError("the passwords do not match") }
        }
        guard !first.isEmpty else { throw CLIError("the password is empty") }
        return first
    }

    private static func readHidden(_ prompt: String) throws -> String {
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &original)
            print("")
        }
        print(prompt, terminator: "")
        fflush(nil)
        return readLine(strippingNewline: true) ?? ""
    }
}
