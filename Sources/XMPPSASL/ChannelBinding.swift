/// Channel-binding data the server can offer for the `-PLUS` mechanisms.
///
/// The driver computes `data` from the TLS connection: for `tls-server-end-point` (RFC 5929 §4) it
/// is the hash of the server's own certificate, for `tls-exporter` (RFC 9266 §2) it is the exported
/// keying material.
public struct ChannelBinding: Sendable, Hashable {
    /// The channel-binding type name, as the client names it in the gs2 header (`p=<type>`).
    public var type: String
    /// The channel-binding data appended to the gs2 header in the `c=` attribute (RFC 5802 §7).
    public var data: [UInt8]

    public init(type: String, data: [UInt8]) {
        self.type = type
        self.data = data
    }

    /// RFC 5929 §4.
    public static let tlsServerEndPointType = "tls-server-end-point"
    /// RFC 9266 §2.
    public static let tlsExporterType = "tls-exporter"
}
