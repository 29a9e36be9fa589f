import Testing
@testable import XMPPSASL

@Suite struct SCRAMCredentialTests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    // Expected keys computed independently (Python hashlib.pbkdf2_hmac / hmac, RFC 5802 §3).
    @Test func deriveIsStable() throws {
        let sha1 = try SCRAMCredential.derive(password: "pencil", hash: .sha1, salt: Base64.decode(bytes("QSXCR+Q6sek8bf92"))!, iterations: 4096)
        #expect(Self.hex(sha1.storedKey) == "e9d94660c39d65c38fbad91c358f14da0eef2bd6")
        #expect(Self.hex(sha1.serverKey) == "0fe09258b3ac852ba502cc62ba903eaacdbf7d31")

        let sha256 = try SCRAMCredential.derive(password: "pencil", hash: .sha256, salt: Base64.decode(bytes("W22ZaJ0SNY7soEsUEjb6gQ=="))!, iterations: 4096)
        #expect(Self.hex(sha256.storedKey) == "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6")
        #expect(Self.hex(sha256.serverKey) == "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5")

        let sha512 = try SCRAMCredential.derive(password: "pencil", hash: .sha512, salt: Array(0..<16), iterations: 4096)
        #expect(Self.hex(sha512.storedKey) == "0c1ace8892c956465e33f958063ca7f0793f2d0d91accdd5fd88391ddd7d41f682155fe868f79000c264c2dbc1762e1780045e8d4dee704f5e0da80130727e57")
        #expect(Self.hex(sha512.serverKey) == "daf0dc7bc9a1c10b3546f49fbb14b86c314538dc6b00e8bfc9e78f21a8b08a0db1882d7a95078dfb01cecce366ff5f15338f49160f57a00c90ee81c53dabc0de")
        #expect(sha512.salt == Array(0..<16))
        #expect(sha512.iterations == 4096)

        let again = try SCRAMCredential.derive(password: "pencil", hash: .sha512, salt: Array(0..<16), iterations: 4096)
        #expect(again == sha512)
    }

    @Test func generateAllGivesOnePerHashWithFreshSalts() throws {
        let all = try SCRAMCredential.generateAll(password: "pencil", iterations: 4096)
        #expect(all.map(\.hash) == SCRAMHash.allCases)
        #expect(all.allSatisfy { $0.salt.count == 16 && $0.iterations == 4096 && $0.isUsable })
        #expect(Set(all.map(\.salt)).count == 3)
        for credential in all {
            var server = PlainServer()
            _ = server.start(initialResponse: [0] + bytes("user") + [0] + bytes("pencil"))
            #expect(server.provideCredentials(credential) == .success(additionalData: nil, username: "user", authzid: nil))
        }
    }

    @Test func emptyPasswordIsRefused() {
        #expect(throws: (any Error).self) {
            try SCRAMCredential.derive(password: "", hash: .sha256, salt: Array(0..<16), iterations: 4096)
        }
    }
}

@Suite struct SASLSupportTests {
    @Test func mechanismNames() {
        #expect(SASLMechanisms.serverMechanismNames(tls: true, channelBindingTypes: ["tls-server-end-point"], plainAllowed: true) == [
            "SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN",
        ])
        #expect(SASLMechanisms.serverMechanismNames(tls: true, channelBindingTypes: [], plainAllowed: false) == [
            "SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1",
        ])
        #expect(SASLMechanisms.serverMechanismNames(tls: false, channelBindingTypes: ["tls-exporter"], plainAllowed: true) == [
            "SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1",
        ])
    }

    @Test func base64() {
        for length in 0..<10 {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(data)) == data)
        }
        #expect(Base64.encodeString(bytes("n,,")) == "biws")
        #expect(Base64.decode(bytes("abc")) == nil)
        #expect(Base64.decode(bytes("a=bc")) == nil)
        #expect(Base64.decode(bytes("ab==cdef")) == nil)
        #expect(Base64.decode(bytes("ab!d")) == nil)
    }

    @Test func saslname() {
        #expect(SASLName.decode(bytes("a=2Cb=3Dc=2cd=3de")) == "a,b=c,d=e")
        #expect(SASLName.decode(bytes("a=2")) == nil)
        #expect(SASLName.decode(bytes("a=41")) == nil)
        #expect(SASLName.decode(bytes("")) == nil)
        #expect(SASLName.encode("a,b=c") == bytes("a=2Cb=3Dc"))
    }

    @Test func nonceIsPrintableBase64() {
        let nonce = SCRAMServer.makeNonce()
        #expect(nonce.count == 24)
        #expect(Base64.decode(nonce)?.count == 18)
        #expect(SCRAMServer.makeNonce() != nonce)
    }
}
