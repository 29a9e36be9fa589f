import Foundation
@testable import XMPPSASL

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A minimal SCRAM client (RFC 5802 §3, §7) for driving the server in tests.
/// Base64 comes from Foundation so that the server's own codec is not checked against itself.
struct SCRAMTestClient {
    var hash: SCRAMHash
    var username: String
    var password: String
    var authzid: String? = nil
    var gs2Flag = "n"
    var channelBindingData: [UInt8] = []
    var clientNonce = "fyko+d2lbbFgONRv9qkxdawL"

    private(set) var expectedServerFinal: [UInt8] = []

    static func saslname(_ s: String) -> String {
        s.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    var gs2Header: String { gs2Flag + "," + (authzid.map { "a=" + Self.saslname($0) } ?? "") + "," }
    var clientFirstBare: String { "n=\(Self.saslname(username)),r=\(clientNonce)" }
    var clientFirst: [UInt8] { bytes(gs2Header + clientFirstBare) }

    /// Builds client-final for `serverFirst`; nil if server-first is not what a client accepts.
    mutating func clientFinal(serverFirst: [UInt8]) -> [UInt8]? {
        let text = String(decoding: serverFirst, as: UTF8.self)
        var attributes: [Character: String] = [:]
        for part in text.split(separator: ",") {
            guard part.count >= 2, part.dropFirst().first == "=" else { return nil }
            attributes[part.first!] = String(part.dropFirst(2))
        }
        guard let nonce = attributes["r"], nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count,
              let saltText = attributes["s"], let salt = Data(base64Encoded: saltText),
              let iterationsText = attributes["i"], let iterations = Int(iterationsText)
        else { return nil }

        let cbind = Data(bytes(gs2Header) + channelBindingData).base64EncodedString()
        let withoutProof = "c=\(cbind),r=\(nonce)"
        let authMessage = bytes(clientFirstBare + "," + text + "," + withoutProof)
        guard let salted = hash.saltedPassword(bytes(password), salt: Array(salt), iterations: iterations) else { return nil }
        let clientKey = hash.hmac(key: salted, bytes("Client Key"))
        let storedKey = hash.digest(clientKey)
        let clientSignature = hash.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = hash.hmac(key: salted, bytes("Server Key"))
        expectedServerFinal = bytes("v=" + Data(hash.hmac(key: serverKey, authMessage)).base64EncodedString())
        return bytes(withoutProof + ",p=" + Data(proof).base64EncodedString())
    }
}

/// Runs a whole exchange; returns the final output.
func runExchange(
    server: inout SCRAMServer, client: inout SCRAMTestClient, credential: SCRAMCredential?
) -> SASLServerOutput {
    let first = server.start(initialResponse: client.clientFirst)
    guard case .needCredentials = first else { return first }
    let challenge = server.provideCredentials(credential)
    guard case .challenge(let serverFirst) = challenge, let final = client.clientFinal(serverFirst: serverFirst) else { return challenge }
    return server.respond(final)
}
