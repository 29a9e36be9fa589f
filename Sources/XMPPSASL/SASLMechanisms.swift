/// Which mechanisms the server offers.
public enum SASLMechanisms {
    /// The mechanism names to advertise in `<mechanisms/>` (RFC 6120 §6.4.1), strongest first.
    ///
    /// The `-PLUS` variants need TLS and at least one channel-binding type the driver can compute
    /// (RFC 5802 §6). PLAIN sends the password itself, so it is only offered over TLS and only when
    /// allowed (RFC 6120 §6.4.1 recommends against plaintext mechanisms without confidentiality).
    public static func serverMechanismNames(tls: Bool, channelBindingTypes: [String], plainAllowed: Bool) -> [String] {
        let strongestFirst: [SCRAMHash] = [.sha512, .sha256, .sha1]
        var names: [String] = []
        if tls && !channelBindingTypes.isEmpty {
            names += strongestFirst.map { $0.mechanismName(plus: true) }
        }
        names += strongestFirst.map { $0.mechanismName(plus: false) }
        if tls && plainAllowed {
            names.append("PLAIN")
        }
        return names
    }
}
