import Testing
@testable import XMPPSASL

@Suite struct PlainServerTests {
    static func credential(_ hash: SCRAMHash = .sha256) throws -> SCRAMCredential {
        try SCRAMCredential.derive(password: "pencil", hash: hash, salt: Array(0..<16), iterations: 4096)
    }

    @Test func successWithInitialResponse() throws {
        var server = PlainServer()
        #expect(server.name == "PLAIN")
        #expect(server.start(initialResponse: [0] + bytes("User") + [0] + bytes("pencil")) == .needCredentials(username: "user", hash: .sha256))
        #expect(server.provideCredentials(try Self.credential()) == .success(additionalData: nil, username: "user", authzid: nil))
        #expect(server.respond([]) == .failure(.malformedRequest))
    }

    @Test func successAfterEmptyChallengeWithAuthzid() throws {
        var server = PlainServer()
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(server.respond(bytes("user@example.com") + [0] + bytes("user") + [0] + bytes("pencil"))
                == .needCredentials(username: "user", hash: .sha256))
        // The authzid is handed to the driver to judge.
        #expect(server.provideCredentials(try Self.credential())
                == .success(additionalData: nil, username: "user", authzid: "user@example.com"))
    }

    @Test func otherHashCredentialAlsoVerifies() throws {
        var server = PlainServer()
        _ = server.start(initialResponse: [0] + bytes("user") + [0] + bytes("pencil"))
        #expect(server.provideCredentials(try Self.credential(.sha512)) == .success(additionalData: nil, username: "user", authzid: nil))
    }

    @Test func wrongPassword() throws {
        var server = PlainServer()
        _ = server.start(initialResponse: [0] + bytes("user") + [0] + bytes("pencil2"))
        #expect(server.provideCredentials(try Self.credential()) == .failure(.notAuthorized))
    }

    @Test func unknownUser() {
        var server = PlainServer()
        #expect(server.start(initialResponse: [0] + bytes("nobody") + [0] + bytes("pencil")) == .needCredentials(username: "nobody", hash: .sha256))
        #expect(server.provideCredentials(nil) == .failure(.notAuthorized))
    }

    @Test func unusableCredential() throws {
        var credential = try Self.credential()
        credential.iterations = 0
        var server = PlainServer()
        _ = server.start(initialResponse: [0] + bytes("user") + [0] + bytes("pencil"))
        #expect(server.provideCredentials(credential) == .failure(.notAuthorized))
    }

    @Test(arguments: [
        [UInt8](),                                           // "=" sent: empty message
        bytes("userpencil"),                                 // no NUL
        [0] + bytes("user"),                                 // one NUL
        [0, 0] + bytes("pencil"),                            // empty authcid
        [0] + bytes("user") + [0],                           // empty password
        [0] + bytes("user") + [0] + bytes("pen") + [0] + bytes("cil"),  // extra NUL
        [0] + [0xFF, 0xFE] + [0] + bytes("pencil"),          // not UTF-8
    ])
    func malformed(message: [UInt8]) {
        var server = PlainServer()
        #expect(server.start(initialResponse: message) == .failure(.malformedRequest))
    }

    @Test func callsInTheWrongState() {
        var server = PlainServer()
        #expect(server.respond([0] + bytes("user") + [0] + bytes("pencil")) == .failure(.malformedRequest))
        var server2 = PlainServer()
        #expect(server2.provideCredentials(nil) == .failure(.malformedRequest))
        var server3 = PlainServer()
        _ = server3.start(initialResponse: [0] + bytes("user") + [0] + bytes("pencil"))
        #expect(server3.respond([0] + bytes("user") + [0] + bytes("pencil")) == .failure(.malformedRequest))
    }
}
