import Foundation
import Testing
@testable import XMPPSASL

@Suite struct SCRAMServerTests {
    // MARK: RFC test vectors

    @Test func rfc5802SCRAMSHA1Example() throws {
        // RFC 5802 §5
        let credential = try SCRAMCredential.derive(
            password: "pencil", hash: .sha1, salt: Array(Data(base64Encoded: "QSXCR+Q6sek8bf92")!), iterations: 4096)
        var server = SCRAMServer(hash: .sha1, plus: false, channelBinding: nil, plusAdvertised: false,
                                 nonce: bytes("3rfcNHYJY1ZVvWVs7j"))
        #expect(server.name == "SCRAM-SHA-1")
        #expect(server.start(initialResponse: bytes("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))
                == .needCredentials(username: "user", hash: .sha1))
        #expect(server.provideCredentials(credential)
                == .challenge(bytes("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")))
        #expect(server.respond(bytes("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
                == .success(additionalData: bytes("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), username: "user", authzid: nil))
    }

    @Test func rfc7677SCRAMSHA256Example() throws {
        // RFC 7677 §3
        let credential = try SCRAMCredential.derive(
            password: "pencil", hash: .sha256, salt: Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!), iterations: 4096)
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false,
                                 nonce: bytes("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"))
        // Without an initial response the server asks with an empty challenge.
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(server.respond(bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")) == .needCredentials(username: "user", hash: .sha256))
        #expect(server.provideCredentials(credential)
                == .challenge(bytes("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")))
        #expect(server.respond(bytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
                == .success(additionalData: bytes("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), username: "user", authzid: nil))
    }

    // MARK: Round trips

    @Test(arguments: SCRAMHash.allCases)
    func roundTripWithAuthzid(hash: SCRAMHash) throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: hash, salt: Array(0..<16), iterations: 4096)
        var server = SCRAMServer(hash: hash, plus: false, channelBinding: nil, plusAdvertised: false)
        var client = SCRAMTestClient(hash: hash, username: "juliet", password: "pencil", authzid: "juliet@example.com/a,b=c")
        let output = runExchange(server: &server, client: &client, credential: credential)
        #expect(output == .success(additionalData: client.expectedServerFinal, username: "juliet",
                                   authzid: "juliet@example.com/a,b=c"))
        #expect(!client.expectedServerFinal.isEmpty)
        // Finished: every further call fails.
        #expect(server.respond([]) == .failure(.malformedRequest))
    }

    @Test func usernameIsUnescapedAndNormalised() {
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server.start(initialResponse: bytes("n,,n=Ju=3Dli=2cet,r=abc")) == .needCredentials(username: "ju=li,et", hash: .sha256))
    }

    @Test func wrongPasswordIsNotAuthorized() throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha256, salt: Array(0..<16), iterations: 4096)
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        var client = SCRAMTestClient(hash: .sha256, username: "user", password: "pen")
        #expect(runExchange(server: &server, client: &client, credential: credential) == .failure(.notAuthorized))
    }

    // MARK: Channel binding (RFC 5802 §6)

    static let endPoint = ChannelBinding(type: ChannelBinding.tlsServerEndPointType, data: Array(repeating: 0xA5, count: 32))

    @Test func plusWithMatchingBinding() throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha256, salt: Array(0..<16), iterations: 4096)
        var server = SCRAMServer(hash: .sha256, plus: true, channelBinding: Self.endPoint, plusAdvertised: true)
        #expect(server.name == "SCRAM-SHA-256-PLUS")
        var client = SCRAMTestClient(hash: .sha256, username: "user", password: "pencil",
                                     gs2Flag: "p=tls-server-end-point", channelBindingData: Self.endPoint.data)
        let output = runExchange(server: &server, client: &client, credential: credential)
        #expect(output == .success(additionalData: client.expectedServerFinal, username: "user", authzid: nil))
    }

    @Test func plusWithMismatchedBindingData() throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha256, salt: Array(0..<16), iterations: 4096)
        var server = SCRAMServer(hash: .sha256, plus: true, channelBinding: Self.endPoint, plusAdvertised: true)
        var client = SCRAMTestClient(hash: .sha256, username: "user", password: "pencil",
                                     gs2Flag: "p=tls-server-end-point", channelBindingData: Array(repeating: 0x5A, count: 32))
        #expect(runExchange(server: &server, client: &client, credential: credential) == .failure(.notAuthorized))
    }

    @Test func plusWithOtherBindingType() {
        var server = SCRAMServer(hash: .sha256, plus: true, channelBinding: Self.endPoint, plusAdvertised: true)
        #expect(server.start(initialResponse: bytes("p=tls-exporter,,n=user,r=abc")) == .failure(.notAuthorized))
    }

    @Test(arguments: ["n", "y"])
    func plusWithoutPFlagIsMalformed(flag: String) {
        var server = SCRAMServer(hash: .sha256, plus: true, channelBinding: Self.endPoint, plusAdvertised: true)
        #expect(server.start(initialResponse: bytes(flag + ",,n=user,r=abc")) == .failure(.malformedRequest))
    }

    @Test func pFlagOnNonPlusMechanismIsMalformed() {
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: Self.endPoint, plusAdvertised: true)
        #expect(server.start(initialResponse: bytes("p=tls-server-end-point,,n=user,r=abc")) == .failure(.malformedRequest))
    }

    @Test func yFlagWhenPlusAdvertisedIsADowngrade() {
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: Self.endPoint, plusAdvertised: true)
        #expect(server.start(initialResponse: bytes("y,,n=user,r=abc")) == .failure(.notAuthorized))
    }

    @Test func yFlagWhenPlusNotAdvertisedSucceeds() throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha1, salt: Array(0..<16), iterations: 4096)
        var server = SCRAMServer(hash: .sha1, plus: false, channelBinding: nil, plusAdvertised: false)
        var client = SCRAMTestClient(hash: .sha1, username: "user", password: "pencil", gs2Flag: "y")
        let output = runExchange(server: &server, client: &client, credential: credential)
        #expect(output == .success(additionalData: client.expectedServerFinal, username: "user", authzid: nil))
    }

    @Test func channelBindingAttributeMustRepeatTheHeader() throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha1, salt: Array(Data(base64Encoded: "QSXCR+Q6sek8bf92")!), iterations: 4096)
        var server = SCRAMServer(hash: .sha1, plus: false, channelBinding: nil, plusAdvertised: false, nonce: bytes("3rfcNHYJY1ZVvWVs7j"))
        _ = server.start(initialResponse: bytes("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))
        _ = server.provideCredentials(credential)
        // c=eSws is "y,," but the client sent "n,,".
        #expect(server.respond(bytes("c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
                == .failure(.notAuthorized))
    }

    @Test func wrongNonceInClientFinal() throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha1, salt: Array(Data(base64Encoded: "QSXCR+Q6sek8bf92")!), iterations: 4096)
        var server = SCRAMServer(hash: .sha1, plus: false, channelBinding: nil, plusAdvertised: false, nonce: bytes("3rfcNHYJY1ZVvWVs7j"))
        _ = server.start(initialResponse: bytes("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))
        _ = server.provideCredentials(credential)
        #expect(server.respond(bytes("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7k,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
                == .failure(.notAuthorized))
    }

    // MARK: Unknown accounts

    @Test func unknownUserGetsAPlausibleChallengeThenFails() throws {
        func serverFirst(for username: String) -> [UInt8]? {
            var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false, nonce: bytes("srv"))
            guard server.start(initialResponse: bytes("n,,n=\(username),r=cli")) == .needCredentials(username: username, hash: .sha256),
                  case .challenge(let first) = server.provideCredentials(nil) else { return nil }
            return first
        }
        let first = try #require(serverFirst(for: "nobody"))
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.hasPrefix("r=clisrv,s="))
        #expect(text.hasSuffix(",i=4096"))
        let salt = text.dropFirst("r=clisrv,s=".count).dropLast(",i=4096".count)
        #expect(Data(base64Encoded: String(salt))?.count == 16)
        // Asking again gives the same salt, as a real account would; another name gives another.
        #expect(serverFirst(for: "nobody") == first)
        #expect(serverFirst(for: "someone") != first)

        // Whatever password the client tries, the exchange fails only at the end.
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        var client = SCRAMTestClient(hash: .sha256, username: "nobody", password: "pencil")
        #expect(runExchange(server: &server, client: &client, credential: nil) == .failure(.notAuthorized))
    }

    @Test func credentialForAnotherHashIsTreatedAsUnknown() throws {
        let sha1 = try SCRAMCredential.derive(password: "pencil", hash: .sha1, salt: Array(0..<16), iterations: 4096)
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        var client = SCRAMTestClient(hash: .sha256, username: "user", password: "pencil")
        #expect(runExchange(server: &server, client: &client, credential: sha1) == .failure(.notAuthorized))
    }

    // MARK: Malformed input

    @Test(arguments: [
        "",
        "n",
        "n,,",
        "n,,n=user",
        "x,,n=user,r=abc",           // unknown gs2 flag
        "nn,,n=user,r=abc",
        "p=,,n=user,r=abc",          // empty cb-name
        "p=bad_name,,n=user,r=abc",  // '_' not allowed in cb-name
        "n,a=,n=user,r=abc",         // empty authzid
        "n,b=x,n=user,r=abc",        // not an authzid
        "n,a=x=41,n=user,r=abc",     // bad escape in authzid
        "n,,r=abc,n=user",           // attributes out of order
        "n,,n=,r=abc",               // empty username
        "n,,n=us=41er,r=abc",        // bad escape
        "n,,n=user=,r=abc",          // truncated escape
        "n,,n=user=2,r=abc",         // truncated escape
        "n,,n=user,r=",              // empty nonce
        "n,,n=user,r=ab\u{7F}",      // nonce not printable
        "n,,n=user,x=abc",           // missing nonce
        "n,,n=user,r=abc,",          // empty extension
        "n,,n=user,r=abc,1=x",       // extension name not ALPHA
        "n,,n=user,r=abc,x",         // extension without value
        "n,,m=ext,n=user,r=abc",     // reserved mandatory extension (RFC 5802 §5.1)
    ])
    func malformedClientFirst(message: String) {
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server.start(initialResponse: bytes(message)) == .failure(.malformedRequest))
    }

    @Test func malformedClientFirstBytes() {
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server.start(initialResponse: bytes("n,,n=") + [0xFF, 0xFE] + bytes(",r=abc")) == .failure(.malformedRequest))
        var server2 = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server2.start(initialResponse: []) == .failure(.malformedRequest))
    }

    @Test func optionalExtensionsAreIgnored() {
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server.start(initialResponse: bytes("n,,n=user,r=abc,x=ext,y=more=stuff")) == .needCredentials(username: "user", hash: .sha256))
    }

    @Test(arguments: [
        "",
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",                                       // no proof
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,c=biws,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",        // order
        "c=biws,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",                                                    // no nonce
        "c=bi#s,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",        // bad base64 in c
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts",         // bad base64 in p
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI",            // proof too short
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",       // empty extension
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=,x=y",    // proof not last
    ])
    func malformedClientFinal(message: String) throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha1, salt: Array(Data(base64Encoded: "QSXCR+Q6sek8bf92")!), iterations: 4096)
        var server = SCRAMServer(hash: .sha1, plus: false, channelBinding: nil, plusAdvertised: false, nonce: bytes("3rfcNHYJY1ZVvWVs7j"))
        _ = server.start(initialResponse: bytes("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))
        _ = server.provideCredentials(credential)
        #expect(server.respond(bytes(message)) == .failure(.malformedRequest))
    }

    @Test func clientFinalExtensionsAreIgnored() throws {
        let credential = try SCRAMCredential.derive(password: "pencil", hash: .sha256, salt: Array(0..<16), iterations: 4096)
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        var client = SCRAMTestClient(hash: .sha256, username: "user", password: "pencil")
        guard case .needCredentials = server.start(initialResponse: client.clientFirst),
              case .challenge(let serverFirst) = server.provideCredentials(credential),
              var final = client.clientFinal(serverFirst: serverFirst)
        else { Issue.record("exchange did not reach client-final"); return }
        // Insert an extension before the proof: it belongs to client-final-message-without-proof,
        // so the proof no longer matches; check it is parsed (not malformed) but rejected.
        let proofStart = final.lastIndex(of: UInt8(ascii: ","))!
        final.insert(contentsOf: bytes(",x=ext"), at: proofStart)
        #expect(server.respond(final) == .failure(.notAuthorized))
    }

    // MARK: State

    @Test func callsInTheWrongState() throws {
        var server = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server.respond(bytes("n,,n=user,r=abc")) == .failure(.malformedRequest))
        // A failure ends the exchange.
        #expect(server.start(initialResponse: bytes("n,,n=user,r=abc")) == .failure(.malformedRequest))

        var server2 = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server2.provideCredentials(nil) == .failure(.malformedRequest))

        var server3 = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server3.start(initialResponse: bytes("n,,n=user,r=abc")) == .needCredentials(username: "user", hash: .sha256))
        #expect(server3.respond(bytes("c=biws")) == .failure(.malformedRequest))

        var server4 = SCRAMServer(hash: .sha256, plus: false, channelBinding: nil, plusAdvertised: false)
        #expect(server4.start(initialResponse: nil) == .challenge([]))
        #expect(server4.start(initialResponse: nil) == .failure(.malformedRequest))
    }
}
